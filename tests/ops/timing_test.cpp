// Timings of the ops on the engine's hot shapes (disabled: speed is measured, never
// asserted). Run: ops_tests --gtest_also_run_disabled_tests --gtest_filter='*Timing*'
#include <chrono>
#include <cstdio>

#include "diffnorm/threads.h"
#include "ops/conv2d.h"
#include "oracle.h"

namespace diffnorm::ops::test {
namespace {

// libtorch's lazy start-up (the first torch op) sets OpenMP to its own thread count
// (1 here); call after the inputs are made.
void use_all_cores() { set_num_threads(0); }

// Best wall time of `reps` runs after one warm-up, in seconds.
template <class F>
double best_seconds(int reps, F&& f) {
  f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

TEST(DISABLED_Timing, Conv3x3_320_64x64_Batch2) {
  const Tensor x = random_tensor({2, 64, 64, 320});
  const Conv2d conv(random_tensor({320, 320, 3, 3}), random_tensor({320}), Conv2dOptions::symmetric(1));
  Tensor y = Tensor::empty({2, 64, 64, 320});
  use_all_cores();
  const double s = best_seconds(5, [&] { conv.forward(x, y); });
  const double flops = 2.0 * 2 * 64 * 64 * 320 * 320 * 9;
  std::printf("conv2d 3x3 320->320 64x64 N2 NHWC, %d threads: %.2f ms, %.1f GFLOP/s\n", num_threads(), s * 1e3,
              flops / s * 1e-9);
}

}  // namespace
}  // namespace diffnorm::ops::test
