// The denoising loop of diffusers' pipelines over a window of a sampler's schedule:
//   for each timestep t: x = step(model(scale_model_input(x), t), x, generator)
// The denoiser callback returns the model output for the scaled latents at t; classifier-free
// guidance (two UNet halves, uncond + scale * (cond - uncond)) happens inside it.
#pragma once

#include <functional>

#include "pipeline/sampler.h"
#include "pipeline/timesteps_window.h"

namespace diffnorm {

/// model output (epsilon or v, as the sampler's prediction_type says) for (model_input, t).
using Denoiser = std::function<Tensor(const Tensor& model_input, double timestep)>;
/// Called after every step with the step's index in the schedule, its timestep and the
/// new latents (diffusers' callback_on_step_end).
using StepObserver = std::function<void(int index, double timestep, const Tensor& latents)>;

/// Runs timesteps [window.begin, window.end) from `latents` and returns the result. The
/// sampler starts at window.begin (fresh multistep history), like a new pipeline call.
Tensor run_denoising_loop(Sampler& sampler, Tensor latents, const Denoiser& model, TorchGenerator& generator,
                          TimestepWindow window, const StepObserver& observer = {});

/// txt2img start: randn(shape) from the generator times init_noise_sigma.
Tensor initial_latents(const Sampler& sampler, const Shape& shape, TorchGenerator& generator);

}  // namespace diffnorm
