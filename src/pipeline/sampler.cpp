#include "pipeline/sampler.h"

#include <cmath>

#include <fmt/ranges.h>

#include "core/check.h"
#include "pipeline/sampler_ddim.h"
#include "pipeline/sampler_dpmpp_2m.h"
#include "pipeline/sampler_euler.h"
#include "pipeline/sampler_euler_ancestral.h"
#include "pipeline/sampler_heun.h"
#include "pipeline/sampler_lms.h"
#include "pipeline/sampler_ops.h"
#include "pipeline/sampler_pndm.h"

namespace diffnorm {

Sampler::Sampler(std::string name, const NoiseScheduleConfig& config)
    : name_(std::move(name)), schedule_(config) {}

void Sampler::check_prediction_type_supported() const {
  DN_CHECK(config().prediction_type != PredictionType::Sample,
           "sampler '{}': prediction_type 'sample' is not supported (use epsilon or v_prediction)", name_);
}

void Sampler::set_timesteps(int n) {
  DN_CHECK(n >= 1, "sampler '{}': num_inference_steps must be >= 1, got {}", name_, n);
  DN_CHECK(n <= schedule_.num_train_timesteps(),
           "sampler '{}': num_inference_steps {} exceeds num_train_timesteps {}", name_, n,
           schedule_.num_train_timesteps());
  num_inference_steps_ = n;
  timesteps_.clear();
  sigmas_.clear();
  compute_schedule(n);
  start_at(0);
}

void Sampler::start_at(int index) {
  DN_CHECK(!timesteps_.empty(), "sampler '{}': set_timesteps was not called", name_);
  DN_CHECK(index >= 0 && index < int(timesteps_.size()), "sampler '{}': start index {} outside [0, {})",
           name_, index, timesteps_.size());
  const double t = timesteps_[index];
  int first = -1, matches = 0;
  for (int i = 0; i < int(timesteps_.size()) && matches < 2; ++i) {
    if (timesteps_[i] == t) {
      first = i;
      ++matches;
    }
  }
  step_index_ = first;  // the second match when there are two, else the only one
  clear_history();
}

double Sampler::current_timestep() const {
  DN_CHECK(!finished(), "sampler '{}': no step left (step index {} of {})", name_, step_index_,
           timesteps_.size());
  return timesteps_[step_index_];
}

Tensor Sampler::step(const Tensor& model_output, const Tensor& sample, TorchGenerator& generator) {
  DN_CHECK(!finished(), "sampler '{}': step() after the last of {} steps", name_, timesteps_.size());
  sampler_ops::check_same(model_output, sample);
  Tensor out = step_impl(model_output, sample, generator);
  ++step_index_;
  return out;
}

Tensor Sampler::add_noise(const Tensor& original, const Tensor& noise, int index) const {
  // DDPM forward process: sqrt(a_t) x0 + sqrt(1 - a_t) noise, t = timesteps()[index].
  DN_CHECK(index >= 0 && index < int(timesteps_.size()), "add_noise: index {} outside [0, {})", index,
           timesteps_.size());
  const float a = schedule_.alphas_cumprod().at(std::size_t(timesteps_[index]));
  const float sqrt_a = std::sqrt(a), sqrt_one_minus_a = std::sqrt(1.0f - a);
  return sampler_ops::map(original, noise, [&](float x, float n) { return sqrt_a * x + sqrt_one_minus_a * n; });
}

const std::vector<std::string>& sampler_names() {
  static const std::vector<std::string> names = {"euler",    "euler_karras",    "euler_ancestral", "euler_a",
                                                 "heun",     "lms",             "dpmpp_2m",        "dpmpp_2m_karras",
                                                 "ddim",     "pndm"};
  return names;
}

std::unique_ptr<Sampler> make_sampler(std::string_view name, const NoiseScheduleConfig& config_in,
                                      int num_inference_steps) {
  NoiseScheduleConfig config = config_in;
  std::unique_ptr<Sampler> s;
  if (name == "euler") {
    s = std::make_unique<EulerSampler>(config);
  } else if (name == "euler_karras") {
    config.use_karras_sigmas = true;
    s = std::make_unique<EulerSampler>(config);
  } else if (name == "euler_ancestral" || name == "euler_a") {
    s = std::make_unique<EulerAncestralSampler>(config);
  } else if (name == "heun") {
    s = std::make_unique<HeunSampler>(config);
  } else if (name == "lms") {
    s = std::make_unique<LmsSampler>(config);
  } else if (name == "dpmpp_2m") {
    s = std::make_unique<DpmPp2mSampler>(config);
  } else if (name == "dpmpp_2m_karras") {
    config.use_karras_sigmas = true;
    s = std::make_unique<DpmPp2mSampler>(config);
  } else if (name == "ddim") {
    s = std::make_unique<DdimSampler>(config);
  } else if (name == "pndm") {
    s = std::make_unique<PndmSampler>(config);
  } else {
    fail("unknown sampler '{}' (valid: {})", name, fmt::join(sampler_names(), ", "));
  }
  s->set_timesteps(num_inference_steps);
  return s;
}

}  // namespace diffnorm
