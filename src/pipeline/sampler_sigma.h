// SigmaSampler: what the k-diffusion style samplers of diffusers share (Euler, Euler
// ancestral, Heun, LMS): the sample lives at noise level sigma, x = x0 + sigma * eps.
//
//   timesteps  leading:  arange(n) * (T // n), reversed, + steps_offset
//              trailing: round(arange(T, 0, -T / n)) - 1
//              linspace: linspace(0, T - 1, n) reversed (fractional)        (all float32)
//   sigmas     np.interp(timesteps, 0..T-1, train_sigmas) in float64, + [0], as float32
//              (Karras: sigmas re-spaced between the first and last, timesteps from sigmas)
//   init_noise_sigma  sqrt(max_sigma^2 + 1) for leading spacing, max_sigma otherwise
//   scale_model_input x / sqrt(sigma^2 + 1)
//   add_noise  x0 + noise * sigma
#pragma once

#include "pipeline/sampler.h"

namespace diffnorm {

class SigmaSampler : public Sampler {
 public:
  SigmaSampler(std::string name, const NoiseScheduleConfig& config, bool karras_supported);

  float init_noise_sigma() const override;
  Tensor scale_model_input(const Tensor& sample) const override;
  Tensor add_noise(const Tensor& original, const Tensor& noise, int index) const override;

 protected:
  void compute_schedule(int n) override;
  /// The model's estimate of the clean sample at noise level sigma:
  /// epsilon: x - sigma * eps;  v: v * (-sigma / sqrt(sigma^2 + 1)) + x / (sigma^2 + 1).
  Tensor predicted_original(const Tensor& model_output, const Tensor& sample, float sigma) const;
  /// sigma of the sample at the current step index.
  float sigma_now() const { return sigmas_[step_index_]; }
};

}  // namespace diffnorm
