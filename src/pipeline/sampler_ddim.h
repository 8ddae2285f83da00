// DDIM (Song et al. 2021) with eta = 0, diffusers' DDIMScheduler. With a = alphas_cumprod:
//   t' = t - T // n (diffusers' previous timestep, whatever the spacing), a' = a[t'] or, below
//   0, 1 (set_alpha_to_one) / a[0]
//   epsilon: x0 = (x - sqrt(1 - a_t) eps) / sqrt(a_t)
//   v:       x0 = sqrt(a_t) x - sqrt(1 - a_t) v,  eps = sqrt(a_t) v + sqrt(1 - a_t) x
//   x' = sqrt(a') x0 + sqrt(1 - a') eps
// Timesteps (int): leading arange(n) * (T // n), reversed, + offset; trailing
// round(arange(T, 0, -T / n)) - 1; linspace round(linspace(0, T - 1, n)) reversed.
#pragma once

#include "pipeline/sampler.h"

namespace diffnorm {

class DdimSampler : public Sampler {
 public:
  explicit DdimSampler(const NoiseScheduleConfig& config);

 protected:
  void compute_schedule(int n) override;
  Tensor step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator& generator) override;
};

/// The int timesteps DDIM and PNDM space over the training range (ascending for leading and
/// linspace as diffusers first builds them; callers reverse).
std::vector<double> alpha_sampler_timesteps_descending(const NoiseScheduleConfig& config, int n);

}  // namespace diffnorm
