// `diffnorm lora merge`: LoRAs baked into a checkpoint file, which keeps its key layout and
// dtypes; only the tensors the LoRAs patch change (W' = W + Σ weight·ΔW, computed in float64
// from the float32 value of W, stored back in W's dtype).
//
// The base is
//   a single-file checkpoint (LDM / SGM layout): patches are found through the diffusers
//     names of its components and written back to the original tensors (OpenCLIP's fused
//     q|k|v rows, transposed or reshaped tensors included); the UNet's SGM block names come
//     from the file's own structure;
//   a diffusers component folder (config.json + weights): keys are diffusers names; the
//     UNet's SGM block names come from its config;
//   a diffusers component file (UNet or CLIP text encoder, recognised from its keys): as a
//     folder, but without a config SGM-named UNet patches cannot be placed (give the folder).
// Every patch must land on a tensor of the base (the error names those that do not).
#pragma once

#include <string>

#include "nn/lora_set.h"

namespace diffnorm {

struct LoraMergeSummary {
  std::size_t tensors = 0;          // tensors written
  std::size_t patched_tensors = 0;  // of which changed by a LoRA
  std::string weights_file;         // the base's file that was read
};

LoraMergeSummary merge_loras_into_checkpoint(const std::string& base, const nn::LoraSet& loras,
                                             const std::string& output);

}  // namespace diffnorm
