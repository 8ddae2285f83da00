#include "pipeline/sampler_loop.h"

#include "core/check.h"
#include "pipeline/sampler_ops.h"

namespace diffnorm {

Tensor run_denoising_loop(Sampler& sampler, Tensor latents, const Denoiser& model, TorchGenerator& generator,
                          TimestepWindow window, const StepObserver& observer) {
  const int total = int(sampler.timesteps().size());
  DN_CHECK(window.begin >= 0 && window.begin < window.end && window.end <= total,
           "denoising window [{}, {}) is not a non-empty part of the {} timesteps of '{}'", window.begin,
           window.end, total, sampler.name());
  sampler.start_at(window.begin);
  for (int i = window.begin; i < window.end; ++i) {
    const double t = sampler.timesteps()[i];
    const Tensor model_output = model(sampler.scale_model_input(latents), t);
    DN_CHECK(model_output.shape() == latents.shape(), "denoiser returned {} for latents {}",
             shape_str(model_output.shape()), shape_str(latents.shape()));
    latents = sampler.step(model_output, latents, generator);
    if (observer) observer(i, t, latents);
  }
  return latents;
}

Tensor initial_latents(const Sampler& sampler, const Shape& shape, TorchGenerator& generator) {
  const float sigma = sampler.init_noise_sigma();
  return sampler_ops::map(generator.randn(shape), [sigma](float n) { return n * sigma; });
}

}  // namespace diffnorm
