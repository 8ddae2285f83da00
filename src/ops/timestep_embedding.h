// The sinusoidal timestep embedding of diffusers (get_timestep_embedding), computed in
// float32 operation by operation as diffusers does, so that it matches its fixtures:
//
//   half = dim / 2,  freq_i = exp(-ln(max_period) * i / (half - freq_shift)),  i < half
//   arg[n, i] = scale * t[n] * freq_i
//   emb[n] = [sin(arg) | cos(arg)]   ([cos | sin] with flip_sin_to_cos), plus one zero
//   column when dim is odd.
//
// UNet2DConditionModel uses flip_sin_to_cos = true and freq_shift = 0 for the timestep and,
// in SDXL, for every micro-conditioning time id.
#pragma once

#include <cstdint>

#include "diffnorm/tensor.h"

namespace diffnorm::ops {

struct TimestepEmbeddingOptions {
  bool flip_sin_to_cos = true;
  double freq_shift = 0;  // diffusers' downscale_freq_shift / config freq_shift
  double scale = 1;
  double max_period = 10000;
};

/// timesteps [N] f32 -> [N, dim] f32.
Tensor timestep_embedding(const Tensor& timesteps, int64_t dim, const TimestepEmbeddingOptions& options = {});

}  // namespace diffnorm::ops
