#include "pipeline/sampler_sigma.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "pipeline/sampler_ops.h"
#include "pipeline/timesteps.h"

namespace diffnorm {

SigmaSampler::SigmaSampler(std::string name, const NoiseScheduleConfig& config, bool karras_supported)
    : Sampler(std::move(name), config) {
  check_prediction_type_supported();
  DN_CHECK(karras_supported || !config.use_karras_sigmas,
           "sampler '{}': use_karras_sigmas is supported by euler and dpmpp_2m only", name_);
}

void SigmaSampler::compute_schedule(int n) {
  const NoiseScheduleConfig& c = config();
  const int T = c.num_train_timesteps;
  std::vector<double> t(n);
  switch (c.timestep_spacing) {
    case TimestepSpacing::Leading: {
      const int ratio = T / n;
      for (int i = 0; i < n; ++i) t[i] = double(float((n - 1 - i) * ratio) + float(c.steps_offset));
      break;
    }
    case TimestepSpacing::Trailing: {
      const std::vector<double> a = numpy_arange(T, 0, -double(T) / n);
      t.resize(a.size());
      for (std::size_t i = 0; i < a.size(); ++i) t[i] = double(float(round_half_even(a[i])) - 1.0f);
      break;
    }
    case TimestepSpacing::Linspace: {
      const std::vector<double> a = numpy_linspace(0, T - 1, n);
      for (int i = 0; i < n; ++i) t[i] = double(float(a[n - 1 - i]));
      break;
    }
  }
  std::vector<double> sigmas(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) sigmas[i] = schedule_.sigma_at(t[i]);
  if (c.use_karras_sigmas) {
    sigmas = karras_sigmas(sigmas.back(), sigmas.front(), int(sigmas.size()));
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = schedule_.timestep_of_sigma(sigmas[i]);
  }
  timesteps_ = std::move(t);
  sigmas_.resize(sigmas.size() + 1);
  for (std::size_t i = 0; i < sigmas.size(); ++i) sigmas_[i] = float(sigmas[i]);
  sigmas_.back() = 0.0f;
}

float SigmaSampler::init_noise_sigma() const {
  const float max_sigma = *std::max_element(sigmas_.begin(), sigmas_.end());
  if (config().timestep_spacing != TimestepSpacing::Leading) return max_sigma;
  return std::sqrt(max_sigma * max_sigma + 1.0f);
}

Tensor SigmaSampler::scale_model_input(const Tensor& sample) const {
  DN_CHECK(!finished(), "sampler '{}': scale_model_input after the last step", name_);
  const float sigma = sigma_now();
  const float denom = std::sqrt(sigma * sigma + 1.0f);
  return sampler_ops::map(sample, [denom](float x) { return x / denom; });
}

Tensor SigmaSampler::add_noise(const Tensor& original, const Tensor& noise, int index) const {
  DN_CHECK(index >= 0 && index < int(timesteps_.size()), "add_noise: index {} outside [0, {})", index,
           timesteps_.size());
  const float sigma = sigmas_[index];
  return sampler_ops::map(original, noise, [sigma](float x, float n) { return x + n * sigma; });
}

Tensor SigmaSampler::predicted_original(const Tensor& model_output, const Tensor& sample, float sigma) const {
  if (config().prediction_type == PredictionType::Epsilon)
    return sampler_ops::map(sample, model_output, [sigma](float x, float eps) { return x - sigma * eps; });
  // v-prediction (Salimans & Ho 2022) in the sigma parameterisation.
  const float sigma_sq_plus_1 = sigma * sigma + 1.0f;
  const float c_out = -sigma / std::sqrt(sigma_sq_plus_1);
  return sampler_ops::map(sample, model_output,
                          [=](float x, float v) { return v * c_out + x / sigma_sq_plus_1; });
}

}  // namespace diffnorm
