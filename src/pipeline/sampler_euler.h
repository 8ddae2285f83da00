// Euler (Karras et al. 2022, Algorithm 2 with s_churn = 0), diffusers' EulerDiscreteScheduler:
//   x0 = predicted_original(model_output, x, sigma_i)
//   d  = (x - x0) / sigma_i
//   x' = x + d * (sigma_{i+1} - sigma_i)
// Each step also draws one randn of the latent shape (diffusers draws it for the unused
// churn noise), so that later draws from the generator line up.
#pragma once

#include "pipeline/sampler_sigma.h"

namespace diffnorm {

class EulerSampler : public SigmaSampler {
 public:
  explicit EulerSampler(const NoiseScheduleConfig& config) : SigmaSampler("euler", config, true) {}

 protected:
  Tensor step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator& generator) override;
};

}  // namespace diffnorm
