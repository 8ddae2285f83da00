// Plain fp32 kernels the networks need that src/ops does not provide yet (activations,
// elementwise adds, NHWC resampling / concat, the timestep sinusoid). Simple OpenMP loops over contiguous tensors: the networks call
// only these entry points, so a faster implementation replaces them in one place.
#pragma once

#include <cstdint>

#include "diffnorm/tensor.h"

namespace diffnorm::models {

enum class Act { SiLU, GELU, QuickGELU };
/// Elementwise in place: SiLU x·σ(x); GELU x·Φ(x) (exact erf); QuickGELU x·σ(1.702x).
void activate_(Tensor& x, Act act);
/// A new tensor act(x).
Tensor activate(const Tensor& x, Act act);

/// x += y (same shape, contiguous).
void add_(Tensor& x, const Tensor& y);
/// x[n, ..., c] += v[n, c] for x [N, *, C] contiguous (a per-sample channel bias).
void add_per_sample_channel_(Tensor& x, const Tensor& v);
/// x *= s.
void scale_(Tensor& x, float s);

/// GEGLU's gating: h [..., 2D] -> h[..., :D] · GELU(h[..., D:]).
Tensor geglu_gate(const Tensor& h);

/// Nearest-neighbour ×2 upsampling of NHWC [N, H, W, C] -> [N, 2H, 2W, C].
Tensor upsample_nearest2x_nhwc(const Tensor& x);
/// Channel concatenation of NHWC tensors [N, H, W, Ca] ++ [N, H, W, Cb] (a first).
Tensor concat_channels_nhwc(const Tensor& a, const Tensor& b);

/// diffusers' get_timestep_embedding in float32: for t [B] -> [B, dim],
/// freq_i = exp(-ln(10000)·i / (half - shift)), i < half = dim/2, arg = t·freq_i,
/// [sin | cos] (or [cos | sin] when flip_sin_to_cos); an odd dim gets a zero last column.
/// The float32 rounding steps of the reference are kept so results match it closely.
Tensor timestep_sinusoid(const Tensor& t, int64_t dim, bool flip_sin_to_cos, double freq_shift);

}  // namespace diffnorm::models
