// A diffusers / transformers component folder: config.json plus the weights in
// diffusion_pytorch_model.safetensors (diffusers) or model.safetensors (transformers), or
// their ".fp16.safetensors" variants.
#pragma once

#include <memory>
#include <string>

#include "nn/config_reader.h"
#include "nn/weight_source.h"

namespace diffnorm::nn {

struct Component {
  std::string dir;
  ConfigReader config;
  std::unique_ptr<SafeTensorsWeights> weights;
};

/// The weight file of a component folder (Error listing the names tried when none exists).
std::string component_weights_path(const std::string& dir);
/// Opens config.json and the weight file of `dir`.
Component open_component(const std::string& dir);
/// Only config.json of `dir` (for building a model with RandomWeights).
ConfigReader open_component_config(const std::string& dir);

}  // namespace diffnorm::nn
