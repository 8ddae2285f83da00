#include "nn/component.h"

#include <filesystem>

#include "core/check.h"

namespace diffnorm::nn {

namespace fs = std::filesystem;

std::string component_weights_path(const std::string& dir) {
  static const char* const kNames[] = {"diffusion_pytorch_model.safetensors", "model.safetensors",
                                       "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors"};
  std::string tried;
  for (const char* name : kNames) {
    const fs::path p = fs::path(dir) / name;
    if (fs::is_regular_file(p)) return p.string();
    tried += std::string(tried.empty() ? "" : ", ") + name;
  }
  fail("{}: no weight file found (looked for {})", dir, tried);
}

ConfigReader open_component_config(const std::string& dir) {
  DN_CHECK(fs::is_directory(dir), "model folder {} does not exist or is not a directory", dir);
  return ConfigReader::load((fs::path(dir) / "config.json").string());
}

Component open_component(const std::string& dir) {
  ConfigReader config = open_component_config(dir);
  auto weights = std::make_unique<SafeTensorsWeights>(std::vector<std::string>{component_weights_path(dir)});
  return Component{dir, std::move(config), std::move(weights)};
}

}  // namespace diffnorm::nn
