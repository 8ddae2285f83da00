// Heun (Karras et al. 2022, Algorithm 1 with s_churn = 0), diffusers' HeunDiscreteScheduler.
// The schedule lists every timestep but the first twice (sigmas likewise); steps alternate:
//   first order:  d = (x - x0(sigma_i)) / sigma_i, x' = x + d (sigma_{i+1} - sigma_i)
//                 (x, d and dt are kept)
//   second order: d2 = (x' - x0(x', sigma_{i+1})) / sigma_{i+1},
//                 x'' = x + (d + d2) / 2 * dt        (from the kept x)
// The last step (to sigma = 0) is first order only.
#pragma once

#include <optional>

#include "pipeline/sampler_sigma.h"

namespace diffnorm {

class HeunSampler : public SigmaSampler {
 public:
  explicit HeunSampler(const NoiseScheduleConfig& config) : SigmaSampler("heun", config, false) {}
  int order() const override { return 2; }

 protected:
  void compute_schedule(int n) override;
  void clear_history() override;
  Tensor step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator& generator) override;

 private:
  // State of a pending first-order step (diffusers: prev_derivative, dt, sample).
  std::optional<float> dt_;
  Tensor prev_derivative_;
  Tensor first_order_sample_;
};

}  // namespace diffnorm
