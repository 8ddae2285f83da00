// The networks of diffusers component folders with LoRAs merged into their weights at load
// time (nn/lora_set.h): the network then runs exactly as fast as without them. diffnorm has
// no shared or quantized base weights, so merging at load is the only mode.
#pragma once

#include <string>

#include "models/clip_text_model.h"
#include "models/unet_2d_condition_model.h"
#include "nn/lora_set.h"

namespace diffnorm::models {

/// The UNet of `dir` with every "unet" patch of `loras` merged (patches of other networks
/// are left alone). Errors name a patch that matches no module or does not fit it.
UNet2DConditionModel load_unet(const std::string& dir, const nn::LoraSet& loras);

/// The text encoder of `dir` with the patches of its component merged (nn::lora_component_of:
/// "text_encoder" or "text_encoder_2").
CLIPTextModel load_text_encoder(const std::string& dir, const nn::LoraSet& loras);

}  // namespace diffnorm::models
