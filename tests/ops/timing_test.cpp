// Timings of the ops on the engine's hot shapes (disabled: speed is measured, never
// asserted). Run: ops_tests --gtest_also_run_disabled_tests --gtest_filter='*Timing*'
#include <chrono>
#include <cstdio>
#include <ctime>

#include "diffnorm/threads.h"
#include "ops/attention.h"
#include "ops/conv2d.h"
#include "oracle.h"

namespace diffnorm::ops::test {
namespace {

// libtorch's lazy start-up (the first torch op) sets OpenMP to its own thread count
// (1 here); call after the inputs are made.
void use_all_cores() { set_num_threads(0); }

double process_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Best wall time of `reps` runs after one warm-up, in seconds; also prints the CPU time
// of that run (on a shared, loaded machine CPU time shows the work, wall time the wait).
template <class F>
double best_seconds(int reps, F&& f) {
  f();
  double best = 1e30, best_cpu = 0;
  for (int r = 0; r < reps; ++r) {
    const double c0 = process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (wall < best) best = wall, best_cpu = process_cpu_seconds() - c0;
  }
  std::printf("  (best run: wall %.2f ms, cpu %.2f ms)\n", best * 1e3, best_cpu * 1e3);
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

void time_attention(int64_t batch, int64_t tokens, int64_t keys, int64_t heads, int64_t head_dim) {
  const Tensor q = random_tensor({batch, tokens, heads * head_dim});
  const Tensor k = random_tensor({batch, keys, heads * head_dim});
  const Tensor v = random_tensor({batch, keys, heads * head_dim});
  Tensor out = Tensor::empty(q.shape());
  use_all_cores();
  const double s = best_seconds(3, [&] { attention(q, k, v, out, {heads, false}); });
  const double flops = 4.0 * batch * heads * tokens * keys * head_dim;  // QK^T and PV
  std::printf("attention B%ld Tq%ld Tk%ld H%ld dh%ld, %d threads: %.2f ms, %.1f GFLOP/s\n", long(batch), long(tokens),
              long(keys), long(heads), long(head_dim), num_threads(), s * 1e3, flops / s * 1e-9);
}

TEST(DISABLED_Timing, SelfAttention4096Tokens) { time_attention(2, 4096, 4096, 8, 40); }
TEST(DISABLED_Timing, CrossAttention4096x77) { time_attention(2, 4096, 77, 8, 40); }

}  // namespace
}  // namespace diffnorm::ops::test
