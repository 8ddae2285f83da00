#include "pipeline/noise_schedule.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "pipeline/timesteps.h"

namespace diffnorm {

namespace {

// np.log of a float32 array as numpy's AVX2/AVX512F kernels compute it (simd_log_FLOAT), which
// diffusers' _sigma_to_t depends on: it differs from a correctly rounded logf in ~20% of the
// training sigmas. log(x) = e ln2 + P(m - 1) / Q(m - 1), m in (sqrt(1/2), sqrt(2)], Horner with
// fused multiply-adds. x must be positive and normal (sigmas are).
float numpy_simd_logf(float x) {
  constexpr float p[6] = {0.000000000000000000000e+00f, 9.999999999999998702752e-01f,
                          2.112677543073053063722e+00f, 1.480000633576506585156e+00f,
                          3.808837741388407920751e-01f, 2.589979117907922693523e-02f};
  constexpr float q[6] = {1.000000000000000000000e+00f, 2.612677543073109236779e+00f,
                          2.453006071784736363091e+00f, 9.864942958519418960339e-01f,
                          1.546476374983906719538e-01f, 5.875095403124574342950e-03f};
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  float exponent = float(int32_t(bits >> 23) - 126);
  float m = std::bit_cast<float>((bits & 0x7fffffu) | (126u << 23));  // in [0.5, 1)
  if (m <= 0.707106781186547524400844362104849039f) {
    m = m + m;
    exponent = exponent - 1.0f;
  }
  const float y = m - 1.0f;
  float num = std::fma(p[5], y, p[4]);
  float den = std::fma(q[5], y, q[4]);
  for (int k = 3; k >= 0; --k) {
    num = std::fma(num, y, p[k]);
    den = std::fma(den, y, q[k]);
  }
  return std::fma(exponent, 0.693147180559945309417232121458176568f, num / den);
}

}  // namespace

PredictionType parse_prediction_type(std::string_view name) {
  if (name == "epsilon") return PredictionType::Epsilon;
  if (name == "v_prediction") return PredictionType::VPrediction;
  if (name == "sample") return PredictionType::Sample;
  fail("unknown prediction_type '{}' (valid: epsilon, v_prediction, sample)", name);
}

TimestepSpacing parse_timestep_spacing(std::string_view name) {
  if (name == "leading") return TimestepSpacing::Leading;
  if (name == "trailing") return TimestepSpacing::Trailing;
  if (name == "linspace") return TimestepSpacing::Linspace;
  fail("unknown timestep_spacing '{}' (valid: leading, trailing, linspace)", name);
}

BetaSchedule parse_beta_schedule(std::string_view name) {
  if (name == "scaled_linear") return BetaSchedule::ScaledLinear;
  if (name == "linear") return BetaSchedule::Linear;
  fail("unsupported beta_schedule '{}' (valid: scaled_linear, linear)", name);
}

std::string_view to_string(PredictionType p) {
  switch (p) {
    case PredictionType::Epsilon: return "epsilon";
    case PredictionType::VPrediction: return "v_prediction";
    case PredictionType::Sample: return "sample";
  }
  return "?";
}

std::string_view to_string(TimestepSpacing s) {
  switch (s) {
    case TimestepSpacing::Leading: return "leading";
    case TimestepSpacing::Trailing: return "trailing";
    case TimestepSpacing::Linspace: return "linspace";
  }
  return "?";
}

NoiseScheduleConfig NoiseScheduleConfig::from_json(const nlohmann::json& j) {
  DN_CHECK(j.is_object(), "scheduler config: expected a JSON object, got {}", j.type_name());
  NoiseScheduleConfig c;
  auto get_string = [&](const char* key) -> std::string {
    DN_CHECK(j[key].is_string(), "scheduler config: '{}' must be a string", key);
    return j[key].get<std::string>();
  };
  try {
    if (j.contains("num_train_timesteps")) c.num_train_timesteps = j["num_train_timesteps"].get<int>();
    if (j.contains("beta_start")) c.beta_start = j["beta_start"].get<double>();
    if (j.contains("beta_end")) c.beta_end = j["beta_end"].get<double>();
    if (j.contains("beta_schedule")) c.beta_schedule = parse_beta_schedule(get_string("beta_schedule"));
    if (j.contains("prediction_type")) c.prediction_type = parse_prediction_type(get_string("prediction_type"));
    if (j.contains("timestep_spacing"))
      c.timestep_spacing = parse_timestep_spacing(get_string("timestep_spacing"));
    if (j.contains("steps_offset")) c.steps_offset = j["steps_offset"].get<int>();
    if (j.contains("set_alpha_to_one")) c.set_alpha_to_one = j["set_alpha_to_one"].get<bool>();
    if (j.contains("use_karras_sigmas")) c.use_karras_sigmas = j["use_karras_sigmas"].get<bool>();
  } catch (const nlohmann::json::exception& e) {
    fail("scheduler config: {}", e.what());
  }
  DN_CHECK(!j.contains("trained_betas") || j["trained_betas"].is_null(),
           "scheduler config: trained_betas is not supported (use beta_start/beta_end/beta_schedule)");
  return c;
}

NoiseSchedule::NoiseSchedule(const NoiseScheduleConfig& config) : config_(config) {
  const int T = config.num_train_timesteps;
  DN_CHECK(T >= 2, "num_train_timesteps must be >= 2, got {}", T);
  DN_CHECK(config.beta_start > 0 && config.beta_end < 1 && config.beta_start <= config.beta_end,
           "betas must satisfy 0 < beta_start <= beta_end < 1, got {} and {}", config.beta_start,
           config.beta_end);
  if (config.beta_schedule == BetaSchedule::ScaledLinear) {
    betas_ = torch_linspace_f32(std::sqrt(config.beta_start), std::sqrt(config.beta_end), T);
    for (float& b : betas_) b = b * b;
  } else {
    betas_ = torch_linspace_f32(config.beta_start, config.beta_end, T);
  }
  // torch.cumprod on CPU accumulates float32 inputs in double.
  alphas_cumprod_.resize(T);
  double product = 1.0;
  for (int t = 0; t < T; ++t) {
    product *= double(1.0f - betas_[t]);
    alphas_cumprod_[t] = float(product);
  }
  train_sigmas_.resize(T);
  log_train_sigmas_.resize(T);
  for (int t = 0; t < T; ++t) {
    const float a = alphas_cumprod_[t];
    train_sigmas_[t] = std::sqrt((1.0f - a) / a);
    log_train_sigmas_[t] = numpy_simd_logf(train_sigmas_[t]);
  }
}

double NoiseSchedule::sigma_at(double t) const {
  // np.interp(t, arange(T), train_sigmas) with numpy's exact arithmetic.
  const int last = num_train_timesteps() - 1;
  if (!(t > 0)) return train_sigmas_[0];
  if (t >= last) return train_sigmas_[last];
  const int j = int(std::floor(t));
  if (double(j) == t) return train_sigmas_[j];
  const double slope = (double(train_sigmas_[j + 1]) - double(train_sigmas_[j])) / 1.0;
  return slope * (t - double(j)) + double(train_sigmas_[j]);
}

double NoiseSchedule::timestep_of_sigma(double sigma) const {
  // numpy 1.x value-based casting makes diffusers' arithmetic float32 here: the float64
  // log-sigma meets the float32 array of training log-sigmas, and only the final blend of the
  // integer indices is float64.
  const float log_sigma = float(std::log(std::max(sigma, 1e-10)));
  const int T = num_train_timesteps();
  // Last index whose log-sigma is <= log_sigma (0 if none), at most T - 2.
  int low = 0;
  for (int i = 0; i < T; ++i)
    if (log_sigma - log_train_sigmas_[i] >= 0.0f) low = i;
  low = std::min(low, T - 2);
  const float lo = log_train_sigmas_[low], hi = log_train_sigmas_[low + 1];
  const float w = std::clamp((lo - log_sigma) / (lo - hi), 0.0f, 1.0f);
  return double(1.0f - w) * double(low) + double(w) * double(low + 1);
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n) {
  constexpr double rho = 7.0;
  const std::vector<double> ramp = numpy_linspace(0.0, 1.0, n);
  const double min_inv_rho = std::pow(sigma_min, 1.0 / rho);
  const double max_inv_rho = std::pow(sigma_max, 1.0 / rho);
  std::vector<double> sigmas(n);
  for (int i = 0; i < n; ++i) sigmas[i] = std::pow(max_inv_rho + ramp[i] * (min_inv_rho - max_inv_rho), rho);
  return sigmas;
}

}  // namespace diffnorm
