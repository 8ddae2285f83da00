// The published config.json of each component of the real models, as data: the starting
// point of a single-file checkpoint's configs (which the file does not carry). Presets:
// "sd15", "sd21", "sdxl-base", "sdxl-refiner"; components: "unet", "vae", "text_encoder",
// "text_encoder_2" (those the model has).
#pragma once

#include <string_view>

namespace diffnorm::weights {

/// The config.json text of `component` of `preset` (Error when the preset has no such component).
std::string_view preset_config_json(std::string_view preset, std::string_view component);

}  // namespace diffnorm::weights
