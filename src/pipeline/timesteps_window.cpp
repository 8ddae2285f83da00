#include "pipeline/timesteps_window.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace diffnorm {

TimestepWindow full_window(const Sampler& sampler) { return {0, int(sampler.timesteps().size())}; }

TimestepWindow img2img_window(const Sampler& sampler, double strength) {
  DN_CHECK(strength > 0 && strength <= 1, "img2img strength must be in (0, 1], got {}", strength);
  const int n = sampler.num_inference_steps();
  const int init_timestep = std::min(int(double(n) * strength), n);
  const int t_start = std::max(n - init_timestep, 0);
  DN_CHECK(n - t_start >= 1,
           "img2img: strength {} with {} steps leaves {} denoising steps; raise strength or steps", strength, n,
           n - t_start);
  return {t_start * sampler.order(), int(sampler.timesteps().size())};
}

int denoising_cutoff_timestep(const Sampler& sampler, double fraction) {
  const double T = sampler.schedule().num_train_timesteps();
  return int(std::nearbyint(T - fraction * T));
}

TimestepWindow denoising_end_window(const Sampler& sampler, double denoising_end) {
  DN_CHECK(denoising_end > 0 && denoising_end < 1, "denoising_end must be in (0, 1), got {}", denoising_end);
  const int cutoff = denoising_cutoff_timestep(sampler, denoising_end);
  const auto& t = sampler.timesteps();
  const int count = int(std::count_if(t.begin(), t.end(), [&](double v) { return v >= cutoff; }));
  DN_CHECK(count >= 1, "denoising_end {} leaves no step before timestep {}", denoising_end, cutoff);
  return {0, count};
}

TimestepWindow denoising_start_window(const Sampler& sampler, double denoising_start) {
  DN_CHECK(denoising_start > 0 && denoising_start < 1, "denoising_start must be in (0, 1), got {}",
           denoising_start);
  const int cutoff = denoising_cutoff_timestep(sampler, denoising_start);
  const auto& t = sampler.timesteps();
  int count = int(std::count_if(t.begin(), t.end(), [&](double v) { return v < cutoff; }));
  // A 2nd-order sampler lists timesteps twice: an even count would cut between its two halves.
  if (sampler.order() == 2 && count % 2 == 0) count += 1;
  count = std::min<int>(count, int(t.size()));
  DN_CHECK(count >= 1, "denoising_start {} leaves no step after timestep {}", denoising_start, cutoff);
  return {int(t.size()) - count, int(t.size())};
}

}  // namespace diffnorm
