#include "pipeline/sampler_euler_ancestral.h"

#include <cmath>

#include "pipeline/sampler_ops.h"

namespace diffnorm {

Tensor EulerAncestralSampler::step_impl(const Tensor& model_output, const Tensor& sample,
                                        TorchGenerator& generator) {
  const float sigma_from = sigma_now();
  const float sigma_to = sigmas_[step_index_ + 1];
  const Tensor x0 = predicted_original(model_output, sample, sigma_from);
  const float from_sq = sigma_from * sigma_from, to_sq = sigma_to * sigma_to;
  const float sigma_up = std::sqrt(to_sq * (from_sq - to_sq) / from_sq);
  const float sigma_down = std::sqrt(to_sq - sigma_up * sigma_up);
  const float dt = sigma_down - sigma_from;
  const Tensor noise = generator.randn(model_output.shape());
  return sampler_ops::map(sample, x0, noise, [=](float x, float x0v, float n) {
    const float derivative = (x - x0v) / sigma_from;
    const float deterministic = x + derivative * dt;
    return deterministic + n * sigma_up;
  });
}

}  // namespace diffnorm
