// Euler ancestral (k-diffusion's sample_euler_ancestral, eta 1), diffusers'
// EulerAncestralDiscreteScheduler: the step to sigma_{i+1} is split into a deterministic
// Euler step down to sigma_down and fresh noise of std sigma_up:
//   sigma_up   = sqrt(sigma_{i+1}^2 (sigma_i^2 - sigma_{i+1}^2) / sigma_i^2)
//   sigma_down = sqrt(sigma_{i+1}^2 - sigma_up^2)
//   x' = x + (x - x0) / sigma_i * (sigma_down - sigma_i) + randn * sigma_up
// The noise is one randn of the latent shape from the generator per step.
#pragma once

#include "pipeline/sampler_sigma.h"

namespace diffnorm {

class EulerAncestralSampler : public SigmaSampler {
 public:
  explicit EulerAncestralSampler(const NoiseScheduleConfig& config)
      : SigmaSampler("euler_ancestral", config, false) {}

 protected:
  Tensor step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator& generator) override;
};

}  // namespace diffnorm
