// The training noise schedule of a latent-diffusion model and its scheduler configuration
// (diffusers' scheduler_config.json), computed exactly as diffusers 0.23.1 does:
//
//   betas           scaled_linear: linspace(sqrt(beta_start), sqrt(beta_end), T, float32)^2
//                   linear:        linspace(beta_start, beta_end, T, float32)
//   alphas_cumprod  cumprod(1 - betas), accumulated in double, each prefix rounded to float32
//   sigma(t)        sqrt((1 - alphas_cumprod[t]) / alphas_cumprod[t]) in float32; between
//                   training steps np.interp (linear in sigma, float64)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace diffnorm {

/// What the denoiser predicts (config `prediction_type`).
enum class PredictionType { Epsilon, VPrediction, Sample };
/// How the inference timesteps are placed on the training range (config `timestep_spacing`).
enum class TimestepSpacing { Leading, Trailing, Linspace };
enum class BetaSchedule { ScaledLinear, Linear };

PredictionType parse_prediction_type(std::string_view name);
TimestepSpacing parse_timestep_spacing(std::string_view name);
BetaSchedule parse_beta_schedule(std::string_view name);
std::string_view to_string(PredictionType p);
std::string_view to_string(TimestepSpacing s);

/// The fields of diffusers' scheduler_config.json that the samplers use. Defaults are the
/// SD1.x / SD2.x / SDXL values (diffusers' class defaults differ: steps_offset 0, Euler's
/// spacing linspace); samplers made "from_config" of a model inherit these.
struct NoiseScheduleConfig {
  int num_train_timesteps = 1000;
  double beta_start = 0.00085;
  double beta_end = 0.012;
  BetaSchedule beta_schedule = BetaSchedule::ScaledLinear;
  PredictionType prediction_type = PredictionType::Epsilon;
  TimestepSpacing timestep_spacing = TimestepSpacing::Leading;
  /// Added to leading-spaced timesteps (SD: 1, so the last step is t = 1).
  int steps_offset = 1;
  /// DDIM/PNDM: alpha of the step "before t = 0" is 1 (true) or alphas_cumprod[0] (false).
  bool set_alpha_to_one = false;
  /// Euler / DPM-Solver: Karras et al. (2022) sigma spacing (rho = 7).
  bool use_karras_sigmas = false;

  /// Reads the fields above from a scheduler_config.json object (absent keys keep defaults;
  /// `trained_betas` and unknown schedules/prediction types are rejected).
  static NoiseScheduleConfig from_json(const nlohmann::json& config);
};

class NoiseSchedule {
 public:
  explicit NoiseSchedule(const NoiseScheduleConfig& config);

  const NoiseScheduleConfig& config() const { return config_; }
  int num_train_timesteps() const { return config_.num_train_timesteps; }
  const std::vector<float>& betas() const { return betas_; }
  const std::vector<float>& alphas_cumprod() const { return alphas_cumprod_; }
  /// sigma at every training timestep (float32, increasing in t).
  const std::vector<float>& train_sigmas() const { return train_sigmas_; }
  /// sigma at a fractional timestep: np.interp over the training sigmas, float64.
  double sigma_at(double t) const;
  /// The fractional timestep of a sigma: linear interpolation in log-sigma between the two
  /// neighbouring training sigmas (diffusers' _sigma_to_t; float32 weights, float64 result).
  double timestep_of_sigma(double sigma) const;

 private:
  NoiseScheduleConfig config_;
  std::vector<float> betas_;
  std::vector<float> alphas_cumprod_;
  std::vector<float> train_sigmas_;
  std::vector<float> log_train_sigmas_;  // float32, numpy's SIMD np.log of the float32 sigmas
};

/// Karras et al. (2022) eq. 5: sigma_i = (smax^(1/rho) + i/(n-1) (smin^(1/rho) - smax^(1/rho)))^rho,
/// rho = 7, i = 0..n-1, in float64 (n == 1 gives {sigma_max}).
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n);

}  // namespace diffnorm
