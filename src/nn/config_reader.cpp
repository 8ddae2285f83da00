#include "nn/config_reader.h"

#include <fstream>
#include <sstream>

#include "core/check.h"

namespace diffnorm::nn {

ConfigReader ConfigReader::load(const std::string& path) {
  std::ifstream in(path);
  DN_CHECK(in.good(), "cannot read config file {}", path);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  DN_CHECK(j.is_object(), "{}: expected a JSON object at the top level", path);
  return ConfigReader(std::move(j), path);
}

ConfigReader::ConfigReader(nlohmann::json json, std::string origin) : json_(std::move(json)), origin_(std::move(origin)) {}

void ConfigReader::fail_key(const std::string& key, const std::string& message) const {
  fail("{}: config key '{}' {}", origin_, key, message);
}

const nlohmann::json* ConfigReader::find(const std::string& key) const {
  auto it = json_.find(key);
  if (it == json_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool ConfigReader::has(const std::string& key) const { return find(key) != nullptr; }

int64_t ConfigReader::get_int(const std::string& key, int64_t fallback) const {
  return get_optional_int(key).value_or(fallback);
}

std::optional<int64_t> ConfigReader::get_optional_int(const std::string& key) const {
  const nlohmann::json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) fail_key(key, "must be an integer, found " + v->dump());
  return v->get<int64_t>();
}

double ConfigReader::get_double(const std::string& key, double fallback) const {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_number()) fail_key(key, "must be a number, found " + v->dump());
  return v->get<double>();
}

bool ConfigReader::get_bool(const std::string& key, bool fallback) const {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_boolean()) fail_key(key, "must be true or false, found " + v->dump());
  return v->get<bool>();
}

std::optional<std::string> ConfigReader::get_optional_string(const std::string& key) const {
  const nlohmann::json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) fail_key(key, "must be a string, found " + v->dump());
  return v->get<std::string>();
}

std::string ConfigReader::get_string(const std::string& key, const std::string& fallback) const {
  return get_optional_string(key).value_or(fallback);
}

std::vector<int64_t> ConfigReader::get_int_list(const std::string& key, const std::vector<int64_t>& fallback) const {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_array()) fail_key(key, "must be a list of integers, found " + v->dump());
  std::vector<int64_t> out;
  for (const auto& e : *v) {
    if (!e.is_number_integer()) fail_key(key, "must be a list of integers, found " + v->dump());
    out.push_back(e.get<int64_t>());
  }
  return out;
}

std::vector<std::string> ConfigReader::get_string_list(const std::string& key,
                                                       const std::vector<std::string>& fallback) const {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_array()) fail_key(key, "must be a list of strings, found " + v->dump());
  std::vector<std::string> out;
  for (const auto& e : *v) {
    if (!e.is_string()) fail_key(key, "must be a list of strings, found " + v->dump());
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::vector<int64_t> ConfigReader::get_per_level(const std::string& key, std::size_t levels, int64_t fallback) const {
  const nlohmann::json* v = find(key);
  if (!v) return std::vector<int64_t>(levels, fallback);
  if (v->is_number_integer()) return std::vector<int64_t>(levels, v->get<int64_t>());
  std::vector<int64_t> out = get_int_list(key, {});
  if (out.size() != levels)
    fail_key(key, "has " + std::to_string(out.size()) + " values, expected one per level (" + std::to_string(levels) + ")");
  return out;
}

}  // namespace diffnorm::nn
