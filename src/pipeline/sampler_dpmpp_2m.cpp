#include "pipeline/sampler_dpmpp_2m.h"

#include <cmath>

#include "core/check.h"
#include "pipeline/sampler_ops.h"
#include "pipeline/timesteps.h"

namespace diffnorm {

namespace {

struct AlphaSigma {
  float alpha, sigma, lambda;
};

// diffusers' _sigma_to_alpha_sigma_t and lambda = log(alpha_t) - log(sigma_t), in float32.
AlphaSigma alpha_sigma(float sigma) {
  const float alpha_t = 1.0f / std::sqrt(sigma * sigma + 1.0f);
  const float sigma_t = sigma * alpha_t;
  return {alpha_t, sigma_t, std::log(alpha_t) - std::log(sigma_t)};
}

}  // namespace

DpmPp2mSampler::DpmPp2mSampler(const NoiseScheduleConfig& config) : Sampler("dpmpp_2m", config) {
  check_prediction_type_supported();
}

void DpmPp2mSampler::compute_schedule(int n) {
  const NoiseScheduleConfig& c = config();
  const int T = c.num_train_timesteps;
  std::vector<double> t;
  switch (c.timestep_spacing) {
    case TimestepSpacing::Leading: {
      const int ratio = T / (n + 1);
      for (int i = n; i >= 1; --i) t.push_back(double(i * ratio + c.steps_offset));
      break;
    }
    case TimestepSpacing::Trailing: {
      for (double v : numpy_arange(T, 0, -double(T) / n)) t.push_back(round_half_even(v) - 1);
      break;
    }
    case TimestepSpacing::Linspace: {
      const std::vector<double> a = numpy_linspace(0, T - 1, n + 1);
      for (int i = n; i >= 1; --i) t.push_back(round_half_even(a[i]));
      break;
    }
  }
  const std::vector<float>& train = schedule_.train_sigmas();
  if (c.use_karras_sigmas) {
    const std::vector<double> k = karras_sigmas(train.front(), train.back(), n);
    t.resize(k.size());
    sigmas_.resize(k.size() + 1);
    for (std::size_t i = 0; i < k.size(); ++i) {
      t[i] = round_half_even(schedule_.timestep_of_sigma(k[i]));
      sigmas_[i] = float(k[i]);
    }
    sigmas_.back() = sigmas_[k.size() - 1];
  } else {
    sigmas_.resize(t.size() + 1);
    for (std::size_t i = 0; i < t.size(); ++i) sigmas_[i] = float(schedule_.sigma_at(t[i]));
    sigmas_.back() = train.front();
  }
  timesteps_ = std::move(t);
}

void DpmPp2mSampler::clear_history() {
  previous_x0_ = Tensor();
  lower_order_nums_ = 0;
}

Tensor DpmPp2mSampler::step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator&) {
  const int i = step_index_;
  const int count = int(timesteps_.size());
  const bool lower_order_final = i == count - 1 && count < 15;

  const AlphaSigma s0 = alpha_sigma(sigmas_[i]);
  Tensor x0;
  if (config().prediction_type == PredictionType::Epsilon)
    x0 = sampler_ops::map(sample, model_output, [&](float x, float eps) { return (x - s0.sigma * eps) / s0.alpha; });
  else
    x0 = sampler_ops::map(sample, model_output, [&](float x, float v) { return s0.alpha * x - s0.sigma * v; });

  const AlphaSigma st = alpha_sigma(sigmas_[i + 1]);
  const float h = st.lambda - s0.lambda;
  const float ratio = st.sigma / s0.sigma;
  const float x0_coef = st.alpha * (std::exp(-h) - 1.0f);
  Tensor result;
  if (lower_order_nums_ < 1 || lower_order_final) {
    result = sampler_ops::map(sample, x0, [=](float x, float m) { return ratio * x - x0_coef * m; });
  } else {
    // Second order (diffusers' lower_order_second changes nothing when solver_order is 2).
    const AlphaSigma s1 = alpha_sigma(sigmas_[i - 1]);
    const float h0 = s0.lambda - s1.lambda;
    const float r0 = h0 / h;
    const float inv_r0 = 1.0f / r0;
    const float d1_coef = 0.5f * x0_coef;
    result = sampler_ops::map(sample, x0, previous_x0_, [=](float x, float m0, float m1) {
      const float d1 = inv_r0 * (m0 - m1);
      return (ratio * x - x0_coef * m0) - d1_coef * d1;
    });
  }
  previous_x0_ = x0;
  if (lower_order_nums_ < 2) ++lower_order_nums_;
  return result;
}

}  // namespace diffnorm
