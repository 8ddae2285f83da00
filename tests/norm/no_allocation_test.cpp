// The hot path allocates nothing: once an Arena has seen a workload, repeating it calls
// no operator new (this binary replaces the global one with a counting version).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "diffnorm/arena.h"
#include "diffnorm/norm.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t bytes) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace diffnorm::test {
namespace {

struct Layer {
  const char* name;
  NormShape shape;
  void (*forward)(const NormShape&, const ForwardIO&, Arena&);
  void (*backward)(const NormShape&, const BackwardIO&, Arena&);
};

void group_forward(const NormShape& s, const ForwardIO& io, Arena& a) { group_norm_forward(s, 4, 1e-5f, io, a); }
void group_backward(const NormShape& s, const BackwardIO& io, Arena& a) { group_norm_backward(s, 4, 1e-5f, io, a); }
void layer_forward(const NormShape& s, const ForwardIO& io, Arena& a) { layer_norm_forward(s.n, s.s, s.c, 1e-5f, io, a); }
void layer_backward(const NormShape& s, const BackwardIO& io, Arena& a) {
  layer_norm_backward(s.n, s.s, s.c, 1e-5f, io, a);
}
void batch_forward(const NormShape& s, const ForwardIO& io, Arena& a) { batch_norm_forward(s, {}, {}, io, a); }
void batch_backward(const NormShape& s, const BackwardIO& io, Arena& a) { batch_norm_backward(s, {}, false, io, a); }
void instance_forward(const NormShape& s, const ForwardIO& io, Arena& a) { instance_norm_forward(s, {}, {}, io, a); }
void instance_backward(const NormShape& s, const BackwardIO& io, Arena& a) {
  instance_norm_backward(s, {}, false, io, a);
}
void rms_forward(const NormShape& s, const ForwardIO& io, Arena& a) { rms_norm_forward(s.n * s.s, s.c, {}, io, a); }
void rms_backward(const NormShape& s, const BackwardIO& io, Arena& a) { rms_norm_backward(s.n * s.s, s.c, {}, io, a); }

TEST(NoAllocation, RepeatedForwardAndBackwardCallNoOperatorNew) {
  // Channels-first and channels-last shapes; the large GroupNorm span takes the two-pass
  // path, the small ones the fused paths.
  const Layer layers[] = {
      {"GroupNorm NCHW fused", {2, 8, 50, Layout::NCHW}, group_forward, group_backward},
      {"GroupNorm NCHW two-pass", {2, 8, 40000, Layout::NCHW}, group_forward, group_backward},
      {"GroupNorm NHWC", {2, 8, 50, Layout::NHWC}, group_forward, group_backward},
      {"LayerNorm rows", {2, 40, 30, Layout::NHWC}, layer_forward, layer_backward},
      {"BatchNorm NCHW", {3, 8, 50, Layout::NCHW}, batch_forward, batch_backward},
      {"BatchNorm NHWC", {3, 8, 50, Layout::NHWC}, batch_forward, batch_backward},
      {"InstanceNorm NCHW", {2, 8, 50, Layout::NCHW}, instance_forward, instance_backward},
      {"RMSNorm rows", {2, 40, 30, Layout::NHWC}, rms_forward, rms_backward},
  };
  for (const Layer& layer : layers) {
    SCOPED_TRACE(layer.name);
    const NormShape& s = layer.shape;
    const size_t n = size_t(s.n * s.c * s.s);
    const size_t stats = size_t(std::max(s.n * s.c, s.n * s.s));
    std::vector<float> x(n), dy(n), y(n), dx(n), gamma(size_t(s.c), 1.5f), beta(size_t(s.c), 0.25f);
    for (size_t i = 0; i < n; ++i) {
      x[i] = float(i % 7) - 3.0f;
      dy[i] = float(i % 5) - 2.0f;
    }
    std::vector<float> mean(stats), rstd(stats), dgamma(size_t(s.c)), dbeta(size_t(s.c));
    ForwardIO io;
    io.x = x.data();
    io.y = y.data();
    io.gamma = gamma.data();
    io.beta = beta.data();
    io.mean = mean.data();
    io.rstd = rstd.data();
    BackwardIO bio;
    bio.x = x.data();
    bio.dy = dy.data();
    bio.dx = dx.data();
    bio.gamma = gamma.data();
    bio.beta = beta.data();
    bio.mean = mean.data();
    bio.rstd = rstd.data();
    bio.dgamma = dgamma.data();
    bio.dbeta = dbeta.data();
    Arena arena;
    for (int round = 0; round < 2; ++round) {
      arena.reset();
      counting = round == 1;
      layer.forward(s, io, arena);
      layer.backward(s, bio, arena);
      counting = false;
    }
    EXPECT_EQ(allocations.exchange(0), 0);
  }
}

}  // namespace
}  // namespace diffnorm::test
