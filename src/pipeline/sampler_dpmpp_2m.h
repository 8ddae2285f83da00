// DPM-Solver++(2M) (Lu et al. 2022), diffusers' DPMSolverMultistepScheduler with
// algorithm_type dpmsolver++, solver_order 2, solver_type midpoint, lower_order_final.
// With alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t, lambda = log(alpha_t / sigma_t):
//   x0_i = (x - sigma_t eps) / alpha_t        (v: alpha_t x - sigma_t v)
//   h = lambda_{i+1} - lambda_i
//   1st order: x' = (sigma_{i+1} / sigma_i) x - alpha_{i+1} (e^{-h} - 1) x0_i
//   2nd order: r = (lambda_i - lambda_{i-1}) / h, D1 = (x0_i - x0_{i-1}) / r,
//              x' = (sigma_{i+1} / sigma_i) x - alpha_{i+1} (e^{-h} - 1) (x0_i + D1 / 2)
// First order on the first step and (for fewer than 15 steps) on the last.
//
// Timesteps (int): leading arange(n + 1) * (T // (n + 1)), reversed, last dropped, +offset;
// trailing round(arange(T, 0, -T / n)) - 1; linspace round(linspace(0, T - 1, n + 1)),
// reversed, last dropped. The final sigma is sigma(t = 0). Karras: n sigmas over the whole
// training range, timesteps = round(t(sigma)), final sigma repeated.
#pragma once

#include "pipeline/sampler.h"

namespace diffnorm {

class DpmPp2mSampler : public Sampler {
 public:
  explicit DpmPp2mSampler(const NoiseScheduleConfig& config);

 protected:
  void compute_schedule(int n) override;
  void clear_history() override;
  Tensor step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator& generator) override;

 private:
  Tensor previous_x0_;       // model_outputs[-2] of diffusers (the x0 of the previous step)
  int lower_order_nums_ = 0;  // steps taken so far, saturating at 2
};

}  // namespace diffnorm
