// Where the pipeline tests find the shared fixtures (the independent oracle: outputs of
// diffusers 0.23.1 / torch 1.13). A missing file is a test failure, never a skip.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace diffnorm::test {

inline std::string fixture_path(const std::string& relative) {
  return std::string(DN_SHARED_DIR) + "/fixtures/" + relative;
}

/// Parses a JSON fixture; throws (failing the test) when it is missing or malformed.
/// Python's json writes the non-standard tokens -Infinity / Infinity / NaN (e.g. diffusers'
/// lambda_min_clipped); they become null here.
inline nlohmann::json load_json_fixture(const std::string& relative) {
  const std::string path = fixture_path(relative);
  std::ifstream in(path);
  if (!in) throw std::runtime_error("fixture missing: " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const std::string token : {"-Infinity", "Infinity", "NaN"}) {
    // Only as a value: right after ':' (with or without a space) or inside an array.
    for (std::size_t at = text.find(token); at != std::string::npos; at = text.find(token, at)) {
      std::size_t before = at;
      while (before > 0 && text[before - 1] == ' ') --before;
      const char prev = before > 0 ? text[before - 1] : ' ';
      if (prev == ':' || prev == '[' || prev == ',') {
        text.replace(at, token.size(), "null");
      } else {
        at += token.size();
      }
    }
  }
  return nlohmann::json::parse(text);
}

}  // namespace diffnorm::test
