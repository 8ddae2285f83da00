// Fixture access for the generation tests: case.json / fixtures.safetensors of
// shared/fixtures/pipelines/cases and the three diffusers folders, loaded once per process.
// A missing file fails the test (never a skip).
#pragma once

#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "diffnorm/safetensors.h"
#include "pipeline/pipeline_models.h"

namespace diffnorm::test {

inline std::string pipelines_dir() { return std::string(DN_SHARED_DIR) + "/fixtures/pipelines"; }

/// case.json; Python's NaN / Infinity tokens (as values) become null.
inline nlohmann::json case_json(const std::string& name) {
  const std::string path = pipelines_dir() + "/cases/" + name + "/case.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("fixture missing: " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const std::string token : {"-Infinity", "Infinity", "NaN"})
    for (std::size_t at = text.find(": " + token); at != std::string::npos; at = text.find(": " + token, at))
      text.replace(at + 2, token.size(), "null");
  return nlohmann::json::parse(text);
}

inline SafeTensorsFile case_tensors(const std::string& name) {
  return SafeTensorsFile::open(pipelines_dir() + "/cases/" + name + "/fixtures.safetensors");
}

/// sd15-struct, sdxl-struct or sdxl-refiner-struct, loaded on first use.
inline const PipelineModels& pipeline(const std::string& folder) {
  static std::map<std::string, std::unique_ptr<PipelineModels>> cache;
  auto& slot = cache[folder];
  if (!slot) slot = std::make_unique<PipelineModels>(load_diffusers_pipeline(pipelines_dir() + "/" + folder));
  return *slot;
}

}  // namespace diffnorm::test
