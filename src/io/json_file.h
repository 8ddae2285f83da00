// JSON configuration files (diffusers config.json, model_index.json, ...): loading with
// errors that name the file and the parse position, and typed getters that name the
// file and the key path on a missing key or a type mismatch, e.g.
//   unet/config.json: 'block_out_channels' should be an array of integers, found string
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace diffnorm {

class JsonConfig {
 public:
  /// Reads and parses a file; Error with the file, line, column and reason on failure.
  static JsonConfig load(const std::string& path);
  /// Parses text; `origin` names it in messages.
  static JsonConfig parse(std::string_view text, std::string origin);

  const std::string& origin() const { return origin_; }
  /// Key path of this node from the root ("" for the root, else "a/b").
  const std::string& key_path() const { return key_path_; }
  const nlohmann::json& node() const { return *node_; }
  /// True if the key exists and is not null (diffusers writes null for "use the default").
  bool has(std::string_view key) const;

  /// Required value; Error if missing, null or of another type. T is one of bool,
  /// int, int64_t, float, double, std::string, or std::vector of int, int64_t, float,
  /// double, std::string.
  template <class T>
  T get(std::string_view key) const;
  /// Value or `fallback` when the key is missing or null; Error on a type mismatch.
  template <class T>
  T get_or(std::string_view key, T fallback) const;
  /// A nested object; Error if missing or not an object.
  JsonConfig object(std::string_view key) const;

 private:
  JsonConfig(std::shared_ptr<const nlohmann::json> root, const nlohmann::json* node, std::string origin,
             std::string key_path)
      : root_(std::move(root)), node_(node), origin_(std::move(origin)), key_path_(std::move(key_path)) {}
  std::string path_of(std::string_view key) const;
  const nlohmann::json* lookup(std::string_view key) const;

  std::shared_ptr<const nlohmann::json> root_;
  const nlohmann::json* node_;
  std::string origin_;
  std::string key_path_;
};

}  // namespace diffnorm
