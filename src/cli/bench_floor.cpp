// The two-pass floor kernels (see bench_floor.h), dispatched per SIMD target.
#include "cli/bench_floor.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/check.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cli/bench_floor.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "core/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace diffnorm::cli {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using diffnorm::HWY_NAMESPACE::DF;
using diffnorm::HWY_NAMESPACE::LoadF32;
using diffnorm::HWY_NAMESPACE::StoreF32x2;
using VF = hn::Vec<DF>;

constexpr float kEps = 1e-5f;

inline float SumOf(VF v) { return hn::GetLane(hn::SumOfLanes(DF(), v)); }

// Adds the 4·Lanes values at p to the sums a[j] (Σx) and q[j] (Σx²). bf16 widens 2·Lanes
// values per load by a shift and a mask (the sums do not care which lane holds which
// value), as the layers' statistics do.
template <class T>
HWY_INLINE void AddSums4(const T* p, VF* a, VF* q) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  VF v[4];
  if constexpr (std::is_same_v<T, bfloat16>) {
    const hn::RebindToUnsigned<DF> du;
    for (int h = 0; h < 2; ++h) {
      const auto words = hn::LoadU(du, reinterpret_cast<const uint32_t*>(p + 2 * h * N));
      v[2 * h] = hn::BitCast(d, hn::ShiftLeft<16>(words));
      v[2 * h + 1] = hn::BitCast(d, hn::And(words, hn::Set(du, 0xFFFF0000u)));
    }
  } else {
    for (int j = 0; j < 4; ++j) v[j] = LoadF32(d, p + j * N);
  }
  for (int j = 0; j < 4; ++j) {
    a[j] = hn::Add(a[j], v[j]);
    q[j] = hn::MulAdd(v[j], v[j], q[j]);
  }
}

// Σx and Σx² of p[0, n), n a multiple of 4·Lanes, in four fp32 accumulators per sum (so
// that the loop runs at the loads' rate, not at the latency of one add).
struct PlainAcc {
  VF a[4], q[4];
  PlainAcc() {
    for (int j = 0; j < 4; ++j) a[j] = q[j] = hn::Zero(DF());
  }
  void Result(float& s1, float& s2) const {
    s1 = SumOf(hn::Add(hn::Add(a[0], a[1]), hn::Add(a[2], a[3])));
    s2 = SumOf(hn::Add(hn::Add(q[0], q[1]), hn::Add(q[2], q[3])));
  }
};
template <class T>
HWY_INLINE void PlainSums(const T* p, int64_t n, float& s1, float& s2) {
  const int64_t N = int64_t(hn::Lanes(DF()));
  PlainAcc acc;
  for (int64_t i = 0; i < n; i += 4 * N) AddSums4(p + i, acc.a, acc.q);
  acc.Result(s1, s2);
}

inline void MeanRstd(float s1, float s2, int64_t n, float& m, float& r) {
  m = s1 / float(n);
  r = 1.0f / std::sqrt(std::max(s2 / float(n) - m * m, 0.0f) + kEps);
}

// y = (x·r − m·r)·γ + β for the 4·Lanes values of a row at i, γ and β per value.
template <class T>
HWY_INLINE void RowAffine4(const T* xs, T* ys, int64_t i, VF vr, VF vb, const float* gamma, const float* beta) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  for (int64_t h = i; h < i + 4 * N; h += 2 * N) {
    const VF o0 = hn::MulAdd(hn::MulAdd(LoadF32(d, xs + h), vr, vb), hn::LoadU(d, gamma + h), hn::LoadU(d, beta + h));
    const VF o1 =
        hn::MulAdd(hn::MulAdd(LoadF32(d, xs + h + N), vr, vb), hn::LoadU(d, gamma + h + N), hn::LoadU(d, beta + h + N));
    StoreF32x2(d, o0, o1, ys + h);
  }
}

// Rows (LayerNorm): each thread's rows in order, the apply of row k in one loop with the
// sums of row k + 1 (as the layer's 16-bit rows do; faster than sums-then-apply here
// for fp32 and bf16).
template <class T>
void RowsForwardT(const FloorShape& s, const T* x, T* y, const float* gamma, const float* beta) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d)), W = s.run;
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t q = s.spans / threads, extra = s.spans % threads;
    const int64_t k0 = t * q + std::min(t, extra), k1 = k0 + q + (t < extra ? 1 : 0);
    float s1 = 0, s2 = 0;
    if (k0 < k1) PlainSums(x + k0 * W, W, s1, s2);
    for (int64_t k = k0; k < k1; ++k) {
      float m, r;
      MeanRstd(s1, s2, W, m, r);
      const VF vr = hn::Set(d, r), vb = hn::Set(d, -m * r);
      PlainAcc next;
      const bool more = k + 1 < k1;
      for (int64_t i = 0; i < W; i += 4 * N) {
        if (more) AddSums4(x + (k + 1) * W + i, next.a, next.q);
        RowAffine4(x + k * W, y + k * W, i, vr, vb, gamma, beta);
      }
      next.Result(s1, s2);
    }
  }
}

// Channel runs (channels-first GroupNorm, InstanceNorm): a span's sums, then y = x·a + b
// per channel run from cache.
template <class T>
void RunsForwardT(const FloorShape& s, const T* x, T* y, const float* gamma, const float* beta) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d)), len = s.runs * s.run;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < s.spans; ++k) {
    float s1, s2, m, r;
    PlainSums(x + k * len, len, s1, s2);
    MeanRstd(s1, s2, len, m, r);
    const int64_t c0 = (k % (s.channels / s.runs)) * s.runs;
    for (int64_t j = 0; j < s.runs; ++j) {
      const float a = gamma ? r * gamma[c0 + j] : r;
      const VF va = hn::Set(d, a), vb = hn::Set(d, (beta ? beta[c0 + j] : 0.0f) - m * a);
      const T* xr = x + k * len + j * s.run;
      T* yr = y + k * len + j * s.run;
      for (int64_t i = 0; i < s.run; i += 2 * N)
        StoreF32x2(d, hn::MulAdd(LoadF32(d, xr + i), va, vb), hn::MulAdd(LoadF32(d, xr + i + N), va, vb), yr + i);
    }
  }
}

template <class T>
void ForwardT(const FloorShape& s, const T* x, T* y, const float* gamma, const float* beta) {
  if (s.rows) RowsForwardT(s, x, y, gamma, beta);
  else RunsForwardT(s, x, y, gamma, beta);
}

void FloorForward(DType dtype, const FloorShape& s, const void* x, void* y, const float* gamma, const float* beta) {
  if (dtype == DType::BF16) ForwardT(s, static_cast<const bfloat16*>(x), static_cast<bfloat16*>(y), gamma, beta);
  else ForwardT(s, static_cast<const float*>(x), static_cast<float*>(y), gamma, beta);
}

}  // namespace HWY_NAMESPACE
}  // namespace diffnorm::cli
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace diffnorm::cli {
HWY_EXPORT(FloorForward);

bool floor_supports(const FloorShape& s) {
  const bool runs_fit = s.rows ? s.runs == 1 : (s.runs >= 1 && s.channels % s.runs == 0);
  return s.spans >= 1 && s.run >= 64 && s.run % 64 == 0 && runs_fit;
}

void floor_forward(DType dtype, const FloorShape& shape, const void* x, void* y, const float* gamma,
                   const float* beta) {
  DN_CHECK(floor_supports(shape) && (dtype == DType::F32 || dtype == DType::BF16), "bench floor: shape not supported");
  DN_CHECK(!shape.rows || (gamma && beta), "bench floor: rows take per-value gamma and beta");
  HWY_DYNAMIC_DISPATCH(FloorForward)(dtype, shape, x, y, gamma, beta);
}

}  // namespace diffnorm::cli
#endif  // HWY_ONCE
