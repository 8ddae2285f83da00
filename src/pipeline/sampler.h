// Sampler: one diffusers 0.23.1 scheduler (timesteps, sigmas, scale_model_input, step,
// add_noise) over whole latent tensors, reproducing diffusers' float32 arithmetic.
//
// Use: set_timesteps(n); start_at(i) (0 for txt2img; img2img / refiner start later, see
// timesteps_window.h); then per step: model_input = scale_model_input(x),
// eps = model(model_input, current_timestep()), x = step(eps, x, generator).
// sampler_loop.h runs that loop with a denoiser callback.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "diffnorm/tensor.h"
#include "pipeline/noise_schedule.h"
#include "pipeline/torch_rng.h"

namespace diffnorm {

class Sampler {
 public:
  Sampler(std::string name, const NoiseScheduleConfig& config);
  virtual ~Sampler() = default;
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  const std::string& name() const { return name_; }
  const NoiseSchedule& schedule() const { return schedule_; }
  const NoiseScheduleConfig& config() const { return schedule_.config(); }

  /// diffusers' set_timesteps(num_inference_steps): the schedule, with the step at index 0.
  void set_timesteps(int num_inference_steps);
  int num_inference_steps() const { return num_inference_steps_; }
  /// Timesteps in loop order as diffusers holds them (float32, float64 or int64 values, all
  /// exact in a double); a 2nd-order sampler lists each timestep but the first twice.
  const std::vector<double>& timesteps() const { return timesteps_; }
  /// sigmas (float32), one more than timesteps; empty for DDIM and PNDM.
  const std::vector<float>& sigmas() const { return sigmas_; }
  /// Standard deviation of the initial noise: latents = randn * init_noise_sigma().
  virtual float init_noise_sigma() const { return 1.0f; }
  /// Model evaluations per step of the underlying solver (Heun: 2), diffusers' `order`.
  virtual int order() const { return 1; }

  /// Starts a run at timesteps()[index], forgetting any multistep history. The step index is
  /// found the way diffusers' first step() finds it: the first position of that timestep
  /// in the schedule, the second when it occurs twice.
  void start_at(int index);
  int step_index() const { return step_index_; }
  bool finished() const { return step_index_ >= int(timesteps_.size()); }
  double current_timestep() const;

  /// The denoiser input at the current step (sigma samplers: x / sqrt(sigma^2 + 1)).
  virtual Tensor scale_model_input(const Tensor& sample) const { return sample; }
  /// One step from `sample` given the (guided) model output at current_timestep();
  /// advances the step index. Draws from `generator` exactly as diffusers' step() does.
  Tensor step(const Tensor& model_output, const Tensor& sample, TorchGenerator& generator);
  /// img2img: `original` noised to the level of timesteps()[index] (not scaled by
  /// init_noise_sigma).
  virtual Tensor add_noise(const Tensor& original, const Tensor& noise, int index) const;

 protected:
  /// Fills timesteps_ and sigmas_ for n steps.
  virtual void compute_schedule(int n) = 0;
  virtual void clear_history() {}
  virtual Tensor step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator& generator) = 0;
  void check_prediction_type_supported() const;

  std::string name_;
  NoiseSchedule schedule_;
  int num_inference_steps_ = 0;
  std::vector<double> timesteps_;
  std::vector<float> sigmas_;
  int step_index_ = 0;
};

/// The sampler names make_sampler accepts.
const std::vector<std::string>& sampler_names();
/// "euler", "euler_ancestral" (alias "euler_a"), "heun", "lms", "dpmpp_2m", "ddim", "pndm",
/// and "euler_karras" / "dpmpp_2m_karras" (= use_karras_sigmas). Timesteps are set for
/// `num_inference_steps`. Unknown names throw, listing the valid ones.
std::unique_ptr<Sampler> make_sampler(std::string_view name, const NoiseScheduleConfig& config,
                                      int num_inference_steps);

}  // namespace diffnorm
