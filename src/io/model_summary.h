// Human-readable summaries of model files and folders (what `diffnorm info` prints):
// a .safetensors file (tensor and parameter counts, metadata, guessed model family,
// tensors grouped by top-level prefix or listed one by one) or a diffusers folder
// (model_index.json and each component's config and weights).
#pragma once

#include <cstdint>
#include <string>

namespace diffnorm {

/// Summary of a file or a folder; Error if the path is neither a readable safetensors
/// file nor a diffusers pipeline / component folder.
std::string summarize_model_path(const std::string& path, bool list_every_tensor);

std::string summarize_safetensors(const std::string& path, bool list_every_tensor);
std::string summarize_model_folder(const std::string& dir, bool list_every_tensor);

/// The prefix a tensor is grouped under: "model.diffusion_model", "conditioner.embedders.1",
/// "cond_stage_model.transformer", "lora_unet", "down_blocks", ...
std::string tensor_group(const std::string& name);

/// 1234567 -> "1,234,567"
std::string with_thousands(uint64_t n);

}  // namespace diffnorm
