#include "cli/bench_timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace diffnorm::cli {
namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::vector<double> median_ms_interleaved(const std::vector<Candidate>& candidates, const TimingPlan& plan) {
  const std::size_t k = candidates.size();
  std::size_t calls = 0;                       // calls made so far, of all candidates
  std::vector<std::size_t> per_sample(k, 1);   // calls per sample, calibrated in the warm-up
  std::vector<std::vector<double>> samples(k);

  auto sample = [&](std::size_t c) {
    const double start = now_ms();
    for (std::size_t i = 0; i < per_sample[c]; ++i) candidates[c](calls++);
    return (now_ms() - start) / double(per_sample[c]);
  };
  const double warmup_start = now_ms();
  for (int w = 0; w < std::max(1, plan.warmup_samples) || now_ms() - warmup_start < plan.min_warmup_ms; ++w) {
    for (std::size_t c = 0; c < k; ++c) {
      const double ms = sample(c);
      per_sample[c] = std::max<std::size_t>(1, std::size_t(std::ceil(plan.min_sample_ms / std::max(ms, 1e-6))));
    }
  }
  for (int s = 0; s < plan.samples; ++s)
    for (std::size_t c = 0; c < k; ++c) samples[c].push_back(sample(c));

  std::vector<double> medians(k);
  for (std::size_t c = 0; c < k; ++c) {
    auto& v = samples[c];
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    medians[c] = v[v.size() / 2];
  }
  return medians;
}

}  // namespace diffnorm::cli
