// Linear multistep (k-diffusion's sample_lms, order 4), diffusers' LMSDiscreteScheduler:
//   d_i = (x - x0) / sigma_i, kept for the last `order` steps
//   x'  = x + sum_k c_k d_{i-k},  c_k = integral over [sigma_i, sigma_{i+1}] of the Lagrange
//         basis polynomial through sigma_i, ..., sigma_{i-order+1} that is 1 at sigma_{i-k}
// with order = min(step + 1, 4). diffusers integrates with scipy.integrate.quad (QUADPACK
// QAGS), whose first 21-point Gauss-Kronrod pass is exact for these cubics and is accepted;
// we evaluate that same rule, with the integrand in float32 as diffusers computes it on
// float32 tensors.
#pragma once

#include <deque>

#include "pipeline/sampler_sigma.h"

namespace diffnorm {

class LmsSampler : public SigmaSampler {
 public:
  static constexpr int kOrder = 4;
  explicit LmsSampler(const NoiseScheduleConfig& config) : SigmaSampler("lms", config, false) {}

  /// c_k for `order` points at step index t (diffusers' get_lms_coefficient), float64.
  double lms_coefficient(int order, int t, int current_order) const;

 protected:
  void clear_history() override { derivatives_.clear(); }
  Tensor step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator& generator) override;

 private:
  std::deque<Tensor> derivatives_;  // oldest first
};

}  // namespace diffnorm
