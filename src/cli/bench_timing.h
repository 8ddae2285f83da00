// Timing of benchmark candidates: warm-up, then the median of repeated samples, the
// candidates sampled in turn so that all of them see the same machine load.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace diffnorm::cli {

struct TimingPlan {
  int warmup_samples = 2;     // per candidate, discarded
  int samples = 15;           // per candidate; the median is reported
  double min_sample_ms = 3;   // a sample repeats the call back to back at least this long
  // The warm-up goes on, one sample of each candidate in turn, at least this long: on the
  // 2-vCPU VM of BENCHMARKS.md a kernel runs up to 5x slower for the first ~50-80 ms after
  // the threads were idle (e.g. while one thread filled the operands), and two warm-up
  // samples of 3 ms left the timed samples in that ramp.
  double min_warmup_ms = 200;

  /// `--quick`: fewer and shorter samples (noisier).
  static TimingPlan quick() { return {.warmup_samples = 1, .samples = 5, .min_sample_ms = 1.0}; }
};

/// One call of a candidate; `call` counts the calls of all candidates so far, so that
/// candidates cycling through a ring of operand copies take the next copy whichever
/// candidate ran last: no call finds the lines another candidate has just brought into
/// cache.
using Candidate = std::function<void(std::size_t call)>;

/// Median milliseconds per call of each candidate.
std::vector<double> median_ms_interleaved(const std::vector<Candidate>& candidates, const TimingPlan& plan);

}  // namespace diffnorm::cli
