#include "ops/timestep_embedding.h"

#include <cmath>
#include <vector>

#include "core/check.h"
#include "ops/tensor_checks.h"

namespace diffnorm::ops {

namespace {

// exp as PyTorch 1.13 computes it on float32 CPU tensors (SLEEF's expf_u10, FMA form):
// torch.exp is not always correctly rounded, and at t ~ 1000 one ulp of a frequency
// moves the sinusoid by ~6e-5, so the fixtures are matched by doing the same.
float sleef_expf(float d) {
  const int q = int(std::rint(d * 1.442695040888963407359924681001892137426645954152985934135449406931f));
  float s = std::fma(float(q), -0.693145751953125f, d);
  s = std::fma(float(q), -1.428606765330187045e-06f, s);
  float u = 0.000198527617612853646278381f;
  u = std::fma(u, s, 0.00139304355252534151077271f);
  u = std::fma(u, s, 0.00833336077630519866943359f);
  u = std::fma(u, s, 0.0416664853692054748535156f);
  u = std::fma(u, s, 0.166666671633720397949219f);
  u = std::fma(u, s, 0.5f);
  u = 1.0f + std::fma(s * s, u, s);
  u = std::ldexp(u, q);
  if (d < -104) u = 0;
  if (d > 104) u = HUGE_VALF;
  return u;
}

}  // namespace

Tensor timestep_embedding(const Tensor& timesteps, int64_t dim, const TimestepEmbeddingOptions& options) {
  check_f32_contiguous(timesteps, "timesteps", "timestep_embedding");
  DN_CHECK(timesteps.dim() == 1, "timestep_embedding: timesteps must be [N], got {}", timesteps.describe());
  DN_CHECK(dim >= 2, "timestep_embedding: dim must be >= 2, got {}", dim);
  const int64_t half = dim / 2;
  DN_CHECK(double(half) != options.freq_shift, "timestep_embedding: half = {} equals freq_shift (division by zero)",
           half);
  // The float32 steps of diffusers: exponent = (-ln(P) * arange(half)) / (half - shift); exp.
  const float neg_log_period = float(-std::log(options.max_period));
  const float denominator = float(double(half) - options.freq_shift);
  std::vector<float> freq(static_cast<std::size_t>(half));
  for (int64_t i = 0; i < half; ++i) freq[std::size_t(i)] = sleef_expf(neg_log_period * float(i) / denominator);

  const int64_t n = timesteps.size(0);
  Tensor emb = Tensor::empty({n, dim});
  const float* t = timesteps.data<float>();
  float* e = emb.data<float>();
  const int64_t sin_at = options.flip_sin_to_cos ? half : 0;
  const int64_t cos_at = options.flip_sin_to_cos ? 0 : half;
  for (int64_t r = 0; r < n; ++r) {
    float* row = e + r * dim;
    for (int64_t i = 0; i < half; ++i) {
      const float arg = float(options.scale) * (t[r] * freq[std::size_t(i)]);
      row[sin_at + i] = std::sin(arg);
      row[cos_at + i] = std::cos(arg);
    }
    if (dim % 2) row[dim - 1] = 0.0f;
  }
  return emb;
}

}  // namespace diffnorm::ops
