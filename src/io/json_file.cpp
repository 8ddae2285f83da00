#include "io/json_file.h"

#include <fstream>
#include <limits>
#include <sstream>

#include "core/check.h"

namespace diffnorm {

namespace {

using nlohmann::json;

// How a value of type T is described in messages, and its conversion (nullopt: wrong type).
template <class T>
struct JsonType;

template <>
struct JsonType<bool> {
  static constexpr std::string_view name = "a boolean";
  static std::optional<bool> from(const json& j) { return j.is_boolean() ? std::optional(j.get<bool>()) : std::nullopt; }
};
template <>
struct JsonType<int64_t> {
  static constexpr std::string_view name = "an integer";
  static std::optional<int64_t> from(const json& j) {
    if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return j.is_number_integer() ? std::optional(j.get<int64_t>()) : std::nullopt;
  }
};
template <>
struct JsonType<int> {
  static constexpr std::string_view name = "an integer (32-bit)";
  static std::optional<int> from(const json& j) {
    const std::optional<int64_t> v = JsonType<int64_t>::from(j);
    if (!v || *v < std::numeric_limits<int>::min() || *v > std::numeric_limits<int>::max()) return std::nullopt;
    return int(*v);
  }
};
template <>
struct JsonType<double> {
  static constexpr std::string_view name = "a number";
  static std::optional<double> from(const json& j) { return j.is_number() ? std::optional(j.get<double>()) : std::nullopt; }
};
template <>
struct JsonType<float> {
  static constexpr std::string_view name = "a number";
  static std::optional<float> from(const json& j) { return j.is_number() ? std::optional(j.get<float>()) : std::nullopt; }
};
template <>
struct JsonType<std::string> {
  static constexpr std::string_view name = "a string";
  static std::optional<std::string> from(const json& j) {
    return j.is_string() ? std::optional(j.get<std::string>()) : std::nullopt;
  }
};

template <class E>
struct JsonType<std::vector<E>> {
  static constexpr std::string_view name = [] {
    if constexpr (std::is_same_v<E, std::string>) return std::string_view("an array of strings");
    else if constexpr (std::is_integral_v<E>) return std::string_view("an array of integers");
    else return std::string_view("an array of numbers");
  }();
  static std::optional<std::vector<E>> from(const json& j) {
    if (!j.is_array()) return std::nullopt;
    std::vector<E> out;
    for (const json& element : j) {
      std::optional<E> v = JsonType<E>::from(element);
      if (!v) return std::nullopt;
      out.push_back(std::move(*v));
    }
    return out;
  }
};

// "found string", or for arrays the first offending element: "found an array holding a string".
std::string found(const json& j) {
  if (j.is_array()) {
    for (const json& e : j) {
      if (e.is_array() || e.is_object() || e.is_string() || e.is_boolean() || e.is_null())
        return fmt::format("an array holding {}", e.type_name());
      if (e.is_number_float()) return "an array holding a non-integer number";
    }
    return "array";
  }
  if (j.is_number_float()) return "a non-integer number";
  return j.type_name();
}

}  // namespace

JsonConfig JsonConfig::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DN_CHECK(in.good(), "{}: cannot open", path);
  std::stringstream text;
  text << in.rdbuf();
  DN_CHECK(!in.bad(), "{}: read error", path);
  return parse(text.str(), path);
}

JsonConfig JsonConfig::parse(std::string_view text, std::string origin) {
  try {
    auto root = std::make_shared<const json>(json::parse(text.begin(), text.end()));
    const json* node = root.get();
    return JsonConfig(std::move(root), node, std::move(origin), "");
  } catch (const json::parse_error& e) {
    // Line and column of the byte where parsing stopped (e.byte is 1-based).
    const std::size_t at = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < at; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    // nlohmann's text is "[json.exception...] parse error at line L, column C: <reason>".
    std::string reason = e.what();
    if (const std::size_t p = reason.find(": ", reason.find("column")); p != std::string::npos) reason.erase(0, p + 2);
    fail("{}: invalid JSON at line {}, column {}: {}", origin, line, column, reason);
  } catch (const json::exception& e) {  // e.g. a number too large for 64 bits
    fail("{}: invalid JSON: {}", origin, e.what());
  }
}

std::string JsonConfig::path_of(std::string_view key) const {
  return key_path_.empty() ? std::string(key) : fmt::format("{}/{}", key_path_, key);
}

const json* JsonConfig::lookup(std::string_view key) const {
  if (!node_->is_object()) return nullptr;
  const auto it = node_->find(key);
  return it == node_->end() || it->is_null() ? nullptr : &*it;
}

bool JsonConfig::has(std::string_view key) const { return lookup(key) != nullptr; }

template <class T>
T JsonConfig::get(std::string_view key) const {
  const json* value = lookup(key);
  if (value == nullptr) {
    const bool present_but_null = node_->is_object() && node_->contains(key);
    fail("{}: '{}' should be {}, {}", origin_, path_of(key), JsonType<T>::name,
         present_but_null ? "found null" : "but it is missing");
  }
  std::optional<T> v = JsonType<T>::from(*value);
  DN_CHECK(v.has_value(), "{}: '{}' should be {}, found {}", origin_, path_of(key), JsonType<T>::name, found(*value));
  return std::move(*v);
}

template <class T>
T JsonConfig::get_or(std::string_view key, T fallback) const {
  return has(key) ? get<T>(key) : std::move(fallback);
}

JsonConfig JsonConfig::object(std::string_view key) const {
  const json* value = lookup(key);
  DN_CHECK(value != nullptr && value->is_object(), "{}: '{}' should be an object, found {}", origin_, path_of(key),
           value ? found(*value) : std::string("nothing"));
  return JsonConfig(root_, value, origin_, path_of(key));
}

#define DN_JSON_GETTERS(T)                                   \
  template T JsonConfig::get<T>(std::string_view) const;     \
  template T JsonConfig::get_or<T>(std::string_view, T) const;
DN_JSON_GETTERS(bool)
DN_JSON_GETTERS(int)
DN_JSON_GETTERS(int64_t)
DN_JSON_GETTERS(float)
DN_JSON_GETTERS(double)
DN_JSON_GETTERS(std::string)
DN_JSON_GETTERS(std::vector<int>)
DN_JSON_GETTERS(std::vector<int64_t>)
DN_JSON_GETTERS(std::vector<float>)
DN_JSON_GETTERS(std::vector<double>)
DN_JSON_GETTERS(std::vector<std::string>)
#undef DN_JSON_GETTERS

}  // namespace diffnorm
