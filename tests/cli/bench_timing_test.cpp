// The benchmark timing harness (src/cli/bench_timing.h): call numbering across candidates
// and the order of the medians.
#include "cli/bench_timing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <vector>

namespace diffnorm::cli {
namespace {

void busy_wait_us(double us) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double, std::micro>(us);
  while (std::chrono::steady_clock::now() < end) {
  }
}

TEST(BenchTiming, CallsAreNumberedAcrossCandidates) {
  // Each call gets the next number whichever candidate makes it: candidates cycling
  // through a ring of operand copies then never take a copy another one just touched.
  std::vector<std::size_t> seen;
  std::vector<std::vector<std::size_t>> by_candidate(3);
  std::vector<Candidate> candidates;
  for (std::size_t c = 0; c < 3; ++c)
    candidates.push_back([&, c](std::size_t call) {
      seen.push_back(call);
      by_candidate[c].push_back(call);
      busy_wait_us(10.0 * double(c + 1));
    });
  const TimingPlan plan{.warmup_samples = 1, .samples = 3, .min_sample_ms = 0.2, .min_warmup_ms = 0};
  median_ms_interleaved(candidates, plan);
  ASSERT_FALSE(seen.empty());
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i) << "call " << i;
  for (const auto& calls : by_candidate) EXPECT_GE(calls.size(), 4u);  // warm-up + 3 samples
}

TEST(BenchTiming, MediansFollowTheCost) {
  const std::vector<Candidate> candidates = {[](std::size_t) { busy_wait_us(400); },
                                             [](std::size_t) { busy_wait_us(20); }};
  const TimingPlan plan{.warmup_samples = 1, .samples = 5, .min_sample_ms = 1, .min_warmup_ms = 0};
  const std::vector<double> ms = median_ms_interleaved(candidates, plan);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_GE(ms[0], 0.4);
  EXPECT_GE(ms[1], 0.02);
  EXPECT_GT(ms[0], 5 * ms[1]);
}

}  // namespace
}  // namespace diffnorm::cli
