// AutoencoderKLConfig: diffusers' AutoencoderKL config.json (the SD / SDXL VAE). Absent
// keys take diffusers' defaults (listed).
#pragma once

#include <cstdint>
#include <vector>

#include "nn/config_reader.h"

namespace diffnorm::models {

struct AutoencoderKLConfig {
  int64_t in_channels = 3;                        // image channels
  int64_t out_channels = 3;
  int64_t latent_channels = 4;
  std::vector<int64_t> block_out_channels = {64};  // per level; image/latent factor = 2^(levels-1)
  int64_t layers_per_block = 1;                    // encoder resnets per block (decoder: + 1)
  int64_t norm_num_groups = 32;                    // GroupNorm groups (eps is 1e-6 throughout)
  int64_t sample_size = 32;                        // training image size (informational)
  double scaling_factor = 0.18215;                 // pipelines: z = sample · scaling_factor

  static AutoencoderKLConfig from(const nn::ConfigReader& config);
  int64_t levels() const { return int64_t(block_out_channels.size()); }

  /// The published SD (1.x / 2.x) and SDXL VAE configs.
  static AutoencoderKLConfig sd();
  static AutoencoderKLConfig sdxl();
};

}  // namespace diffnorm::models
