#include "pipeline/sampler_dpmpp_2m.h"

#include <bit>
#include <cmath>
#include <cstdint>

#include "core/check.h"
#include "pipeline/sampler_ops.h"
#include "pipeline/timesteps.h"

namespace diffnorm {

namespace {

// torch.exp on a float32 tensor (even 0-dim) runs SLEEF's Sleef_expf8_u10 (AVX2, FMA), which
// is not correctly rounded; diffusers' exp(-h) needs its exact value. exp(d) = 2^q e^s with
// q = rint(d / ln 2), s = d - q ln 2 (Cody-Waite, two parts) and a degree-6 polynomial.
float sleef_expf(float d) {
  const int q = int(std::nearbyint(d * 1.442695040888963407359924681001892137426645954152985934135449406931f));
  float s = std::fma(float(q), -0.693145751953125f, d);
  s = std::fma(float(q), -1.428606765330187045e-06f, s);
  float u = 0.000198527617612853646278381f;
  for (float c : {0.00139304355252534151077271f, 0.00833336077630519866943359f, 0.0416664853692054748535156f,
                  0.166666671633720397949219f, 0.5f})
    u = std::fma(u, s, c);
  u = 1.0f + std::fma(s * s, u, s);
  // ldexp in two halves (SLEEF's vldexp2), exact for the normal range used here.
  return u * std::ldexp(1.0f, q >> 1) * std::ldexp(1.0f, q - (q >> 1));
}

// torch.log on float32 runs SLEEF's Sleef_logf8_u10 (xlogf_u1, AVX2 with FMA): a double-float
// evaluation of log(m) = 2 atanh((m - 1) / (m + 1)) plus e ln2, which differs from a correctly
// rounded logf in about 1% of inputs. Positive normal inputs only (alphas and sigmas are).
struct FloatPair {
  float x, y;  // value x + y, |y| <= ulp(x) / 2
};
FloatPair df_add2(float a, float b) {  // exact sum of two floats
  const float s = a + b, v = s - a;
  return {s, (a - (s - v)) + (b - v)};
}
FloatPair df_add(FloatPair a, FloatPair b) {  // |a| >= |b|
  const float s = a.x + b.x;
  return {s, (((a.x - s) + b.x) + a.y) + b.y};
}
FloatPair df_add(FloatPair a, float b) {  // |a| >= |b|
  const float s = a.x + b;
  return {s, ((a.x - s) + b) + a.y};
}
FloatPair df_mul(FloatPair a, float b) {
  const float s = a.x * b;
  return {s, std::fma(a.y, b, std::fma(a.x, b, -s))};
}
FloatPair df_div(FloatPair n, FloatPair d) {
  const float t = 1.0f / d.x;
  const float s = n.x * t;
  const float u = std::fma(t, n.x, -s);
  const float v = std::fma(-d.y, t, std::fma(-d.x, t, 1.0f));  // 1 - d.x t - d.y t
  return {s, std::fma(s, v, std::fma(n.y, t, u))};
}

float sleef_logf(float d) {
  const int32_t e = int32_t((std::bit_cast<uint32_t>(d * (1.0f / 0.75f)) >> 23) & 0xff) - 0x7f;
  const float m = std::bit_cast<float>(std::bit_cast<int32_t>(d) + (-e << 23));  // d / 2^e
  FloatPair s = df_mul({0.69314718246459960938f, -1.904654323148236017e-09f}, float(e));
  const FloatPair x = df_div(df_add2(-1.0f, m), df_add2(1.0f, m));
  const float x2 = x.x * x.x;
  float t = 0.3027294874e+0f;
  t = std::fma(t, x2, 0.3996108174e+0f);
  t = std::fma(t, x2, 0.6666694880e+0f);
  s = df_add(s, FloatPair{x.x * 2.0f, x.y * 2.0f});
  s = df_add(s, (x2 * x.x) * t);
  return s.x + s.y;
}

struct AlphaSigma {
  float alpha, sigma, lambda;
};

// diffusers' _sigma_to_alpha_sigma_t and lambda = log(alpha_t) - log(sigma_t), in float32.
AlphaSigma alpha_sigma(float sigma) {
  const float alpha_t = 1.0f / std::sqrt(sigma * sigma + 1.0f);
  const float sigma_t = sigma * alpha_t;
  return {alpha_t, sigma_t, sleef_logf(alpha_t) - sleef_logf(sigma_t)};
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
  const float x0_coef = st.alpha * (sleef_expf(-h) - 1.0f);
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
