// Where the pipeline tests find the shared fixtures (the independent oracle: outputs of
// diffusers 0.23.1 / torch 1.13). A missing file is a test failure, never a skip.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace diffnorm::test {

inline std::string fixture_path(const std::string& relative) {
  return std::string(DN_SHARED_DIR) + "/fixtures/" + relative;
}

/// Parses a JSON fixture; throws (failing the test) when it is missing or malformed.
inline nlohmann::json load_json_fixture(const std::string& relative) {
  const std::string path = fixture_path(relative);
  std::ifstream in(path);
  if (!in) throw std::runtime_error("fixture missing: " + path);
  return nlohmann::json::parse(in);
}

}  // namespace diffnorm::test
