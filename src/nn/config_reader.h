// ConfigReader: typed access to a model's config.json with errors that name the file and
// the key. Absent keys and JSON null both mean "use the documented default".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace diffnorm::nn {

class ConfigReader {
 public:
  /// Reads and parses `path` (Error naming the file when unreadable or not a JSON object).
  static ConfigReader load(const std::string& path);
  ConfigReader(nlohmann::json json, std::string origin);

  const std::string& origin() const { return origin_; }
  bool has(const std::string& key) const;  // present and not null

  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::optional<std::string> get_optional_string(const std::string& key) const;
  std::optional<int64_t> get_optional_int(const std::string& key) const;
  std::vector<int64_t> get_int_list(const std::string& key, const std::vector<int64_t>& fallback) const;
  std::vector<std::string> get_string_list(const std::string& key, const std::vector<std::string>& fallback) const;
  /// An int meaning "the same for every level" or a list with one value per level
  /// (diffusers' attention_head_dim, transformer_layers_per_block); `levels` values out.
  std::vector<int64_t> get_per_level(const std::string& key, std::size_t levels, int64_t fallback) const;

  /// Throws an Error "<file>: config key '<key>' <message>".
  [[noreturn]] void fail_key(const std::string& key, const std::string& message) const;

 private:
  const nlohmann::json* find(const std::string& key) const;
  nlohmann::json json_;
  std::string origin_;
};

}  // namespace diffnorm::nn
