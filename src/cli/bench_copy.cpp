// Copy baselines (see bench_copy.h); the streaming copy is dispatched per SIMD target.
#include "cli/bench_copy.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cli/bench_copy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace diffnorm::cli {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Whole vectors with Stream (non-temporal) stores; the caller copies the tail.
size_t StreamCopyVectors(uint8_t* HWY_RESTRICT dst, const uint8_t* HWY_RESTRICT src, size_t bytes) {
  const hn::ScalableTag<uint8_t> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + 4 * lanes <= bytes; i += 4 * lanes) {
    const auto a = hn::Load(d, src + i);
    const auto b = hn::Load(d, src + i + lanes);
    const auto c = hn::Load(d, src + i + 2 * lanes);
    const auto e = hn::Load(d, src + i + 3 * lanes);
    hn::Stream(a, d, dst + i);
    hn::Stream(b, d, dst + i + lanes);
    hn::Stream(c, d, dst + i + 2 * lanes);
    hn::Stream(e, d, dst + i + 3 * lanes);
  }
  for (; i + lanes <= bytes; i += lanes) hn::Stream(hn::Load(d, src + i), d, dst + i);
  return i;
}

// XOR of the whole 64-bit words in four accumulators (no dependency chain longer than
// one per four loads); the caller reads the tail.
uint64_t ReadVectors(const uint8_t* HWY_RESTRICT src, size_t bytes, size_t* done) {
  const hn::ScalableTag<uint64_t> d;
  const size_t lanes = hn::Lanes(d), step = lanes * sizeof(uint64_t);
  const auto* p = reinterpret_cast<const uint64_t*>(src);
  auto a = hn::Zero(d), b = hn::Zero(d), c = hn::Zero(d), e = hn::Zero(d);
  size_t i = 0;
  for (; (i + 4) * step <= bytes; i += 4) {
    a = hn::Xor(a, hn::Load(d, p + i * lanes));
    b = hn::Xor(b, hn::Load(d, p + (i + 1) * lanes));
    c = hn::Xor(c, hn::Load(d, p + (i + 2) * lanes));
    e = hn::Xor(e, hn::Load(d, p + (i + 3) * lanes));
  }
  *done = i * step;
  const auto all = hn::Xor(hn::Xor(a, b), hn::Xor(c, e));
  HWY_ALIGN uint64_t words[hn::MaxLanes(d)];
  hn::Store(all, d, words);
  uint64_t sum = 0;
  for (size_t k = 0; k < lanes; ++k) sum ^= words[k];
  return sum;
}

}  // namespace HWY_NAMESPACE
}  // namespace diffnorm::cli
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace diffnorm::cli {
HWY_EXPORT(StreamCopyVectors);
HWY_EXPORT(ReadVectors);

namespace {

// [begin, end) of thread t's share, in whole 64-byte lines.
std::pair<std::size_t, std::size_t> share(std::size_t bytes, int t, int threads) {
  const std::size_t lines = (bytes + 63) / 64;
  const std::size_t per = (lines + threads - 1) / threads;
  const std::size_t begin = std::min(bytes, std::size_t(t) * per * 64);
  return {begin, std::min(bytes, begin + per * 64)};
}

}  // namespace

void parallel_memcpy(void* dst, const void* src, std::size_t bytes) {
#pragma omp parallel
  {
    const auto [begin, end] = share(bytes, omp_get_thread_num(), omp_get_num_threads());
    std::memcpy(static_cast<char*>(dst) + begin, static_cast<const char*>(src) + begin, end - begin);
  }
}

uint64_t parallel_read(const void* src, std::size_t bytes) {
  uint64_t sum = 0;
#pragma omp parallel reduction(^ : sum)
  {
    const auto [begin, end] = share(bytes, omp_get_thread_num(), omp_get_num_threads());
    const auto* s = static_cast<const uint8_t*>(src) + begin;
    std::size_t done = 0;
    sum = HWY_DYNAMIC_DISPATCH(ReadVectors)(s, end - begin, &done);
    for (std::size_t i = done; i < end - begin; ++i) sum ^= s[i];
  }
  return sum;
}

void parallel_stream_copy(void* dst, const void* src, std::size_t bytes) {
#pragma omp parallel
  {
    const auto [begin, end] = share(bytes, omp_get_thread_num(), omp_get_num_threads());
    auto* d = static_cast<uint8_t*>(dst) + begin;
    const auto* s = static_cast<const uint8_t*>(src) + begin;
    const std::size_t done = HWY_DYNAMIC_DISPATCH(StreamCopyVectors)(d, s, end - begin);
    std::memcpy(d + done, s + done, end - begin - done);
    hwy::FlushStream();  // make the non-temporal stores visible before the barrier
  }
}

}  // namespace diffnorm::cli
#endif
