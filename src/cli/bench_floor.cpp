// The two-pass floor kernels (see bench_floor.h), dispatched per SIMD target.
#include "cli/bench_floor.h"

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

// Σx and Σx² of p[0, n), n a multiple of 4·Lanes, in four fp32 accumulators per sum (so
// that the loop runs at the loads' rate, not at the latency of one add). bf16 widens
// 2·Lanes values per load by a shift and a mask (the sums do not care which lane holds
// which value), as the layers' statistics do.
template <class T>
HWY_INLINE void PlainSums(const T* p, int64_t n, float& s1, float& s2) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  VF a[4], q[4];
  for (int j = 0; j < 4; ++j) a[j] = q[j] = hn::Zero(d);
  for (int64_t i = 0; i < n; i += 4 * N) {
    VF v[4];
    if constexpr (std::is_same_v<T, bfloat16>) {
      const hn::RebindToUnsigned<DF> du;
      for (int h = 0; h < 2; ++h) {
        const auto words = hn::LoadU(du, reinterpret_cast<const uint32_t*>(p + i + 2 * h * N));
        v[2 * h] = hn::BitCast(d, hn::ShiftLeft<16>(words));
        v[2 * h + 1] = hn::BitCast(d, hn::And(words, hn::Set(du, 0xFFFF0000u)));
      }
    } else {
      for (int j = 0; j < 4; ++j) v[j] = LoadF32(d, p + i + j * N);
    }
    for (int j = 0; j < 4; ++j) {
      a[j] = hn::Add(a[j], v[j]);
      q[j] = hn::MulAdd(v[j], v[j], q[j]);
    }
  }
  s1 = SumOf(hn::Add(hn::Add(a[0], a[1]), hn::Add(a[2], a[3])));
  s2 = SumOf(hn::Add(hn::Add(q[0], q[1]), hn::Add(q[2], q[3])));
}

inline void MeanRstd(float s1, float s2, int64_t n, float& m, float& r) {
  m = s1 / float(n);
  r = 1.0f / std::sqrt(std::max(s2 / float(n) - m * m, 0.0f) + kEps);
}

template <class T>
void ForwardT(const FloorShape& s, const T* x, T* y, const float* gamma, const float* beta) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d)), len = s.runs * s.run;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < s.spans; ++k) {
    const T* xs = x + k * len;
    T* ys = y + k * len;
    float s1, s2, m, r;
    PlainSums(xs, len, s1, s2);
    MeanRstd(s1, s2, len, m, r);
    if (s.rows) {  // y = (x·r − m·r)·γ + β, γ and β per value
      const VF vr = hn::Set(d, r), vb = hn::Set(d, -m * r);
      for (int64_t i = 0; i < len; i += 2 * N) {
        const VF o0 = hn::MulAdd(hn::MulAdd(LoadF32(d, xs + i), vr, vb), hn::LoadU(d, gamma + i), hn::LoadU(d, beta + i));
        const VF o1 = hn::MulAdd(hn::MulAdd(LoadF32(d, xs + i + N), vr, vb), hn::LoadU(d, gamma + i + N),
                                 hn::LoadU(d, beta + i + N));
        StoreF32x2(d, (o0), (o1), ys + i);
      }
      continue;
    }
    const int64_t c0 = (k % (s.channels / s.runs)) * s.runs;
    for (int64_t j = 0; j < s.runs; ++j) {  // y = x·a + b per channel run
      const float a = r * gamma[c0 + j];
      const VF va = hn::Set(d, a), vb = hn::Set(d, beta[c0 + j] - m * a);
      const T* xr = xs + j * s.run;
      T* yr = ys + j * s.run;
      for (int64_t i = 0; i < s.run; i += 2 * N) {
        StoreF32x2(d, (hn::MulAdd(LoadF32(d, xr + i), va, vb)),
                   (hn::MulAdd(LoadF32(d, xr + i + N), va, vb)), yr + i);
      }
    }
  }
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
  HWY_DYNAMIC_DISPATCH(FloorForward)(dtype, shape, x, y, gamma, beta);
}

}  // namespace diffnorm::cli
#endif  // HWY_ONCE
