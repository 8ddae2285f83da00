#include "pipeline/sampler_ddim.h"

#include <cmath>

#include "pipeline/sampler_ops.h"
#include "pipeline/timesteps.h"

namespace diffnorm {

std::vector<double> alpha_sampler_timesteps_descending(const NoiseScheduleConfig& c, int n) {
  const int T = c.num_train_timesteps;
  std::vector<double> t;
  switch (c.timestep_spacing) {
    case TimestepSpacing::Leading:
      for (int i = n - 1; i >= 0; --i) t.push_back(double(i * (T / n) + c.steps_offset));
      break;
    case TimestepSpacing::Trailing:
      for (double v : numpy_arange(T, 0, -double(T) / n)) t.push_back(round_half_even(v) - 1);
      break;
    case TimestepSpacing::Linspace: {
      const std::vector<double> a = numpy_linspace(0, T - 1, n);
      for (int i = n - 1; i >= 0; --i) t.push_back(round_half_even(a[i]));
      break;
    }
  }
  return t;
}

DdimSampler::DdimSampler(const NoiseScheduleConfig& config) : Sampler("ddim", config) {
  check_prediction_type_supported();
}

void DdimSampler::compute_schedule(int n) { timesteps_ = alpha_sampler_timesteps_descending(config(), n); }

Tensor DdimSampler::step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator&) {
  const std::vector<float>& ac = schedule_.alphas_cumprod();
  const int t = int(timesteps_[step_index_]);
  const int prev_t = t - schedule_.num_train_timesteps() / num_inference_steps_;
  const float alpha_t = ac[t];
  const float alpha_prev = prev_t >= 0 ? ac[prev_t] : (config().set_alpha_to_one ? 1.0f : ac[0]);
  const float beta_t = 1.0f - alpha_t;
  const float sqrt_alpha_t = std::sqrt(alpha_t), sqrt_beta_t = std::sqrt(beta_t);
  const float sqrt_alpha_prev = std::sqrt(alpha_prev);
  const float direction_coef = std::sqrt(1.0f - alpha_prev - 0.0f);  // std_dev_t^2 = 0 with eta 0
  if (config().prediction_type == PredictionType::Epsilon) {
    return sampler_ops::map(sample, model_output, [=](float x, float eps) {
      const float x0 = (x - sqrt_beta_t * eps) / sqrt_alpha_t;
      return sqrt_alpha_prev * x0 + direction_coef * eps;
    });
  }
  return sampler_ops::map(sample, model_output, [=](float x, float v) {
    const float x0 = sqrt_alpha_t * x - sqrt_beta_t * v;
    const float eps = sqrt_alpha_t * v + sqrt_beta_t * x;
    return sqrt_alpha_prev * x0 + direction_coef * eps;
  });
}

}  // namespace diffnorm
