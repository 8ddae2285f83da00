// Which part of a sampler's schedule a generation runs, as diffusers 0.23.1 decides it:
//   txt2img                 all timesteps
//   img2img (strength s)    init = min(int(n * s), n), start = (n - init) * order
//                           (StableDiffusion(XL)Img2ImgPipeline.get_timesteps)
//   SDXL base denoising_end f   cutoff = int(round(T - f * T)); the timesteps >= cutoff
//   refiner denoising_start f   the timesteps < cutoff (one more for a 2nd-order sampler
//                               when that count is even), taken from the end
#pragma once

#include "pipeline/sampler.h"

namespace diffnorm {

/// Indices [begin, end) into sampler.timesteps().
struct TimestepWindow {
  int begin = 0;
  int end = 0;
  int size() const { return end - begin; }
};

TimestepWindow full_window(const Sampler& sampler);
/// img2img: strength in (0, 1]; throws when no step would remain.
TimestepWindow img2img_window(const Sampler& sampler, double strength);
/// diffusers' discrete cutoff int(round(T - fraction * T)) (round half to even).
int denoising_cutoff_timestep(const Sampler& sampler, double fraction);
/// SDXL base with denoising_end in (0, 1): the leading timesteps >= the cutoff.
TimestepWindow denoising_end_window(const Sampler& sampler, double denoising_end);
/// SDXL refiner with denoising_start in (0, 1): the trailing timesteps < the cutoff.
TimestepWindow denoising_start_window(const Sampler& sampler, double denoising_start);

}  // namespace diffnorm
