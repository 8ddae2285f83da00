// SIMD kernels of the normalization engines (Highway dynamic dispatch, OpenMP threads).
// Storage types f32/f16/bf16 are widened on load and rounded once on store
// (core/simd-inl.h). Sums are fp32 lanes over short blocks (≤ 32 values per lane
// accumulator), folded into double; centred statistics use shifted sums Σ(x − K),
// Σ(x − K)² with K near the block's mean, so no E[x²] − E[x]² cancellation occurs.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "norm/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "norm/kernels.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "core/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace diffnorm::norm_detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using diffnorm::HWY_NAMESPACE::DF;
using diffnorm::HWY_NAMESPACE::LoadF32;
using diffnorm::HWY_NAMESPACE::LoadF32N;
using diffnorm::HWY_NAMESPACE::StoreF32;
using diffnorm::HWY_NAMESPACE::StoreF32N;
using diffnorm::HWY_NAMESPACE::StoreF32x2;
using VF = hn::Vec<DF>;

// Contiguous sums use `Acc` fp32 accumulators of Lanes lanes, folded into double every
// kFlushPerLane values per lane: the fp32 error stays ~√32·2⁻²⁴ on every target (with
// a fixed element count, the 1-lane SCALAR target summed 512 values per lane: 2.2e-6
// errors in GroupNorm's backward).
constexpr int64_t kFlushPerLane = 32;
template <int Acc = 2>
inline int64_t FlushElements() {
  return Acc * kFlushPerLane * int64_t(hn::Lanes(DF()));
}

template <class T>
inline float ToF32(T v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else if constexpr (std::is_same_v<T, bfloat16>) return bf16_to_f32(v);
  else return f16_to_f32(v);
}

// Σ lanes in double (promoted halves, then a double reduction).
inline double SumLanes(VF v) {
#if HWY_TARGET == HWY_SCALAR
  return double(hn::GetLane(v));
#else
  const DF d;
  const hn::Half<DF> dh;
  const hn::Rebind<double, decltype(dh)> dd;
  const auto wide = hn::Add(hn::PromoteTo(dd, hn::LowerHalf(dh, v)), hn::PromoteTo(dd, hn::UpperHalf(dh, v)));
  return hn::GetLane(hn::SumOfLanes(dd, wide));
#endif
}

// Loads n ≤ Lanes elements; the other lanes are 0.
template <class T>
inline VF LoadPart(const T* p, int64_t n) {
  const DF d;
  return n == int64_t(hn::Lanes(d)) ? LoadF32(d, p) : LoadF32N(d, p, size_t(n));
}
template <class T>
inline void StorePart(VF v, T* p, int64_t n) {
  const DF d;
  if (n == int64_t(hn::Lanes(d))) StoreF32(d, v, p);
  else StoreF32N(d, v, p, size_t(n));
}
inline VF LoadVecPart(const float* p, int64_t n) { return LoadPart(p, n); }

// f(std::bool_constant<a>, std::bool_constant<b>): two run-time flags as template
// arguments, so that the loops f instantiates carry no test for them.
template <class F>
HWY_INLINE decltype(auto) WithFlags(bool a, bool b, F&& f) {
  if (a) return b ? f(std::true_type{}, std::true_type{}) : f(std::true_type{}, std::false_type{});
  return b ? f(std::false_type{}, std::true_type{}) : f(std::false_type{}, std::false_type{});
}

// 2^f for |f| ≤ 1/2 by a polynomial fit: degree 6, a Chebyshev fit (relative error 8e-8,
// ~1 ulp), or degree 4 or 3, minimax fits of the relative error (2.7e-6 = 2^−18.5 and
// 7.5e-5 = 2^−13.7).
template <int kDegree>
inline VF Exp2Fraction(VF f) {
  const DF d;
  static_assert(kDegree == 6 || kDegree == 4 || kDegree == 3);
  if constexpr (kDegree == 4) {
    VF p = hn::Set(d, 9.57010128e-3f);
    p = hn::MulAdd(p, f, hn::Set(d, 5.59178591e-2f));
    p = hn::MulAdd(p, f, hn::Set(d, 0.240247443f));
    p = hn::MulAdd(p, f, hn::Set(d, 0.693121791f));
    return hn::MulAdd(p, f, hn::Set(d, 0.999999285f));
  }
  if constexpr (kDegree == 3) {
    VF p = hn::Set(d, 5.51716685e-2f);
    p = hn::MulAdd(p, f, hn::Set(d, 0.242611125f));
    p = hn::MulAdd(p, f, hn::Set(d, 0.693260968f));
    return hn::MulAdd(p, f, hn::Set(d, 0.999928057f));
  }
  VF p = hn::Set(d, 1.5469732170458883e-4f);
  p = hn::MulAdd(p, f, hn::Set(d, 1.3400432653725147e-3f));
  p = hn::MulAdd(p, f, hn::Set(d, 9.61802527308464e-3f));
  p = hn::MulAdd(p, f, hn::Set(d, 5.550327152013779e-2f));
  p = hn::MulAdd(p, f, hn::Set(d, 0.24022650718688965f));
  p = hn::MulAdd(p, f, hn::Set(d, 0.6931471824645996f));
  return hn::MulAdd(p, f, hn::Set(d, 1.0f));
}

// e^−u = 2^t, t = −u·log2(e) = n + f with n = round(t), |f| ≤ 1/2, 2^f as above. Rounding
// t costs |t|·2^-24 relative (4e-7 at |u| = 10). On AVX-512, vreduceps gives f (0 for
// t = ±∞) and vscalefps applies 2^n (0 or ∞ beyond the float range). Elsewhere t is clamped
// to [−126, 128] (below −126, σ and SiLU no longer see it; 2^128 is built as the bits of
// +∞, so e^−u overflows where it does on AVX-512) and n is rounded by the 1.5·2^23 trick,
// which also leaves n in the low bits for the exponent field.
template <int kDegree = 6>
inline VF ExpNeg(VF u) {
  const DF d;
#if HWY_TARGET <= HWY_AVX3
  const VF t = hn::Mul(u, hn::Set(d, -1.44269504088896341f));
  const VF f = VF{_mm512_reduce_ps(t.raw, _MM_FROUND_TO_NEAREST_INT)};  // t − round(t); 0 for ±∞
  const VF n = hn::Sub(t, f);                                          // exact
  return VF{_mm512_scalef_ps(Exp2Fraction<kDegree>(f).raw, n.raw)};
#else
  const hn::RebindToSigned<DF> di;
  const VF t = hn::Min(hn::Max(hn::Mul(u, hn::Set(d, -1.44269504088896341f)), hn::Set(d, -126.0f)),
                       hn::Set(d, 128.0f));
  const VF magic = hn::Set(d, 12582912.0f);  // 1.5·2^23: t + magic rounds t to an integer
  const VF shifted = hn::Add(t, magic);
  const VF f = hn::Sub(t, hn::Sub(shifted, magic));
  // The bits of `shifted` are those of magic + n: subtract magic's, add the exponent bias.
  const auto exponent = hn::Add(hn::BitCast(di, shifted), hn::Set(di, 127 - 0x4B400000));
  return hn::Mul(Exp2Fraction<kDegree>(f), hn::BitCast(d, hn::ShiftLeft<23>(exponent)));
#endif
}

// σ(u) = 1/(1 + e^−u) and SiLU(u) = u/(1 + e^−u), by a true division (on AVX-512 CPUs
// here it is faster than the reciprocal estimate refined by a Newton step, and than the
// 14-bit estimate alone). SiLU with e^−u of degree kDegree (see Exp2Fraction) is within
// 2^−17.3 (4) or 2^−13.6 (3) relative of SiLU(u) for every fp32 u (rounding t included):
// 1/40 of fp16's and 1/25 of bf16's least half spacing (2^−12 and 2^−9 relative).
inline VF Sigmoid(VF u) {
  const DF d;
  return hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), ExpNeg(u)));
}
template <int kDegree = 6>
inline VF Silu(VF u) {
  const DF d;
  return hn::Div(u, hn::Add(hn::Set(d, 1.0f), ExpNeg<kDegree>(u)));
}
// d/du SiLU(u) = σ(u)·(1 + u·(1 − σ(u))).
inline VF SiluGrad(VF u) {
  const DF d;
  const VF s = Sigmoid(u);
  return hn::Mul(s, hn::MulAdd(u, hn::Sub(hn::Set(d, 1.0f), s), hn::Set(d, 1.0f)));
}

// ---- statistics ------------------------------------------------------------------------

// The 4·Lanes values of p[0, 4·Lanes) as four f32 vectors, in any order (the sums below
// do not care). bf16 (beyond SCALAR): two loads of 2·Lanes values as 32-bit words, whose
// low halves widen by a shift and high halves by a mask: no cross-lane widening, which
// costs about a cycle per vector on its own (AMD EPYC of BENCHMARKS.md).
template <class T>
HWY_INLINE void LoadF32x4(const T* p, VF* v) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
#if HWY_TARGET != HWY_SCALAR
  if constexpr (std::is_same_v<T, bfloat16>) {
    const hn::RebindToUnsigned<DF> du;
    const auto high = hn::Set(du, 0xFFFF0000u);
    for (int h = 0; h < 2; ++h) {
      const auto words = hn::LoadU(du, reinterpret_cast<const uint32_t*>(p + 2 * h * N));
      v[2 * h] = hn::BitCast(d, hn::ShiftLeft<16>(words));
      v[2 * h + 1] = hn::BitCast(d, hn::And(words, high));
    }
    return;
  }
#endif
  for (int j = 0; j < 4; ++j) v[j] = LoadF32(d, p + j * N);
}

// The fp32 lane accumulators of SegmentSums: Σ(x − K) in a1 (Center only), Σ(x − K)² in
// a2, four of each, so that a loop runs at the loads' rate rather than at the latency of
// one accumulating add. Every user adds in this order, so that they agree bit for bit.
template <bool Center>
struct ShiftedSums {
  VF k, a1[4], a2[4];
  explicit ShiftedSums(float shift) {
    const DF d;
    k = hn::Set(d, shift);
    for (int j = 0; j < 4; ++j) a1[j] = a2[j] = hn::Zero(d);
  }
  // The 4·Lanes values at p (any lane order: LoadF32x4).
  template <class T>
  HWY_INLINE void Add4(const T* p) {
    VF x[4];
    LoadF32x4(p, x);
    for (int j = 0; j < 4; ++j) {
      const VF v = hn::Sub(x[j], k);
      if constexpr (Center) a1[j] = hn::Add(a1[j], v);
      a2[j] = hn::MulAdd(v, v, a2[j]);
    }
  }
  // n ≤ Lanes values at p.
  template <class T>
  HWY_INLINE void AddPart(const T* p, int64_t n) {
    const VF v = hn::IfThenElseZero(hn::FirstN(DF(), size_t(n)), hn::Sub(LoadPart(p, n), k));
    if constexpr (Center) a1[0] = hn::Add(a1[0], v);
    a2[0] = hn::MulAdd(v, v, a2[0]);
  }
  // Adds the lanes to s1, s2 in double.
  HWY_INLINE void AddTo(double& s1, double& s2) const {
    if constexpr (Center) s1 += SumLanes(hn::Add(hn::Add(a1[0], a1[1]), hn::Add(a1[2], a1[3])));
    s2 += SumLanes(hn::Add(hn::Add(a2[0], a2[1]), hn::Add(a2[2], a2[3])));
  }
};

// Adds Σ(x − K) and Σ(x − K)² (or only Σx² when !Center) of p[0, len) to s1, s2, in fp32
// lanes flushed to double every FlushElements<4>() values.
template <bool Center, class T>
void SegmentSums(const T* p, int64_t len, float shift, double& s1, double& s2) {
  const int64_t N = int64_t(hn::Lanes(DF()));
  int64_t i = 0;
  while (i < len) {
    const int64_t end = std::min(len, i + FlushElements<4>());
    ShiftedSums<Center> acc(shift);
    for (; i + 4 * N <= end; i += 4 * N) acc.Add4(p + i);
    for (; i < end; i += N) acc.AddPart(p + i, std::min(N, end - i));
    acc.AddTo(s1, s2);
  }
}

// The shift K of a piece's shifted sums: the mean of its first ≤ Lanes values (p[0, len)
// contiguous). Σ(x − K)² − (Σ(x − K))²/n loses a factor 1 + ((μ − K)/σ)² of the fp32
// sums' accuracy; a single value as K can be 3σ off (a factor 10: 1.5e-6 errors in
// rstd), the mean of 16 values is within ~σ/4.
template <class T>
inline float PieceShift(const T* p, int64_t len) {
  const DF d;
  const int64_t n = std::min<int64_t>(len, int64_t(hn::Lanes(d)));
  return hn::GetLane(hn::SumOfLanes(d, LoadPart(p, n))) / float(n);  // any value near μ will do
}

template <bool Center, class T>
void RunMomentsT(const T* x, const RunLayout& L, Moments* out) {
  const int64_t pps = L.pieces_per_stat();
  const int64_t total = L.runs * L.run_len;
  const int64_t items = L.stats * pps;
#pragma omp parallel for schedule(static)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t k = item / pps, p = item % pps;
    const int64_t i0 = p * kPiece, i1 = std::min(total, i0 + kPiece);
    const T* base = x + k * L.stat_stride;
    const int64_t off0 = i0 % L.run_len;
    const float shift =
        Center ? PieceShift(base + (i0 / L.run_len) * L.run_stride + off0, std::min(L.run_len - off0, i1 - i0))
               : 0.0f;
    double s1 = 0, s2 = 0;
    for (int64_t i = i0; i < i1;) {
      const int64_t r = i / L.run_len, off = i % L.run_len;
      const int64_t len = std::min(L.run_len - off, i1 - i);
      SegmentSums<Center>(base + r * L.run_stride + off, len, shift, s1, s2);
      i += len;
    }
    out[item] = shifted_moments(Center, double(i1 - i0), shift, s1, s2);
  }
}

// Moments of p[0, len), pieces of kPiece (each shifted by its first value) merged in
// order: what run_moments gives a contiguous statistic.
template <bool Center, class T>
Moments ContiguousMoments(const T* p, int64_t len) {
  Moments m;
  for (int64_t i0 = 0; i0 < len; i0 += kPiece) {
    const int64_t n = std::min(kPiece, len - i0);
    const float shift = Center ? PieceShift(p + i0, n) : 0.0f;
    double s1 = 0, s2 = 0;
    SegmentSums<Center>(p + i0, n, shift, s1, s2);
    merge_into(m, shifted_moments(Center, double(n), shift, s1, s2));
  }
  return m;
}

// fp32 lane sums cover at most this many rows before they are added into double (as
// SegmentSums: 32 values per lane).
constexpr int64_t kFlushRows = 32;

// Merges the moments of columns [c0, c1) (c1 − c0 ≤ kColChunk) over rows [r0, r1) of
// rows `stride` elements apart into out[c − c0], reading row by row in memory order:
// Σ(x − K), Σ(x − K)² with K = the mean of the column's first ≤ kShiftRows values (as
// PieceShift: one value can be 3σ off the mean, which costs a factor 1 + ((μ − K)/σ)² ≈ 10
// of the fp32 sums' accuracy: 3.4e-6 errors in y and dx of channels-first LayerNorm at
// 3σ offsets), fp32 over ≤ kFlushRows rows, then double. Every column-statistics path
// (two-pass and fused) goes through this, in the same row chunks, so they agree bit for
// bit.
template <bool Center, class T>
void MergeChunkColumnMoments(const T* base, int64_t stride, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                             Moments* out) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  HWY_ALIGN float k[kColChunk], a1[kColChunk], a2[kColChunk];
  double s1[kColChunk] = {}, s2[kColChunk] = {};
  const int64_t w = c1 - c0;
  constexpr int64_t kShiftRows = 8;
  const int64_t shift_rows = Center ? std::min(r1 - r0, kShiftRows) : 0;
  std::fill(k, k + w, 0.0f);
  for (int64_t r = r0; r < r0 + shift_rows; ++r) {
    const T* row = base + r * stride + c0;
    for (int64_t c = 0; c < w; c += N) {
      const int64_t n = std::min(N, w - c);
      StorePart(hn::Add(LoadVecPart(k + c, n), LoadPart(row + c, n)), k + c, n);
    }
  }
  if (shift_rows > 1) {
    const VF inv = hn::Set(d, 1.0f / float(shift_rows));  // any value near μ will do
    for (int64_t c = 0; c < w; c += N) {
      const int64_t n = std::min(N, w - c);
      StorePart(hn::Mul(LoadVecPart(k + c, n), inv), k + c, n);
    }
  }
  for (int64_t f0 = r0; f0 < r1; f0 += kFlushRows) {
    const int64_t f1 = std::min(r1, f0 + kFlushRows);
    std::fill(a1, a1 + w, 0.0f);
    std::fill(a2, a2 + w, 0.0f);
    for (int64_t r = f0; r < f1; ++r) {
      const T* row = base + r * stride + c0;
      for (int64_t c = 0; c < w; c += N) {
        const int64_t n = std::min(N, w - c);
        const VF v = hn::Sub(LoadPart(row + c, n), LoadVecPart(k + c, n));
        if constexpr (Center) StorePart(hn::Add(LoadVecPart(a1 + c, n), v), a1 + c, n);
        StorePart(hn::MulAdd(v, v, LoadVecPart(a2 + c, n)), a2 + c, n);
      }
    }
    for (int64_t c = 0; c < w; ++c) {
      s1[c] += Center ? a1[c] : 0.0f;
      s2[c] += a2[c];
    }
  }
  for (int64_t c = 0; c < w; ++c) merge_into(out[c], shifted_moments(Center, double(r1 - r0), k[c], s1[c], s2[c]));
}

template <bool Center, class T>
void ColMomentsT(const T* x, const ColLayout& L, Moments* out) {
  const int64_t chunks = L.chunks();
  const int64_t col_chunks = (L.width + kColChunk - 1) / kColChunk;
  const int64_t items = L.blocks * chunks * col_chunks;
#pragma omp parallel for schedule(static)
  for (int64_t work = 0; work < items; ++work) {
    const int64_t item = work / col_chunks;  // (block, row chunk)
    const int64_t b = item / chunks, j = item % chunks;
    const int64_t c0 = (work % col_chunks) * kColChunk, c1 = std::min(L.width, c0 + kColChunk);
    const int64_t r0 = j * L.chunk_rows, r1 = std::min(L.rows, r0 + L.chunk_rows);
    Moments* o = out + item * L.width + c0;
    std::fill(o, o + (c1 - c0), Moments{});
    MergeChunkColumnMoments<Center>(x + b * L.rows * L.width, L.width, r0, r1, c0, c1, o);
  }
}

// p[0, Lanes) += v, in double.
inline void AddToDoubles(VF v, double* p) {
#if HWY_TARGET == HWY_SCALAR
  p[0] += double(hn::GetLane(v));
#else
  const hn::Half<DF> dh;
  const hn::Rebind<double, decltype(dh)> dd;
  const int64_t half = int64_t(hn::Lanes(dd));
  hn::StoreU(hn::Add(hn::LoadU(dd, p), hn::PromoteTo(dd, hn::LowerHalf(dh, v))), dd, p);
  hn::StoreU(hn::Add(hn::LoadU(dd, p + half), hn::PromoteTo(dd, hn::UpperHalf(dh, v))), dd, p + half);
#endif
}

// Adds Σ(x − K) and Σ(x − K)² over rows [r0, r1) of V vectors of columns starting at col
// (K per column) to s1[col..], s2[col..]: fp32 lanes per column, then double. Rows are
// prefetched kAhead rows ahead: the hardware prefetcher alone does not hide the latency of
// this strided walk (the statistics pass took 2.5x a copy's read time without).
constexpr int64_t kAhead = 8;
template <int V, bool Center, class T>
HWY_INLINE void ColumnTileSums(const T* base, int64_t width, int64_t r0, int64_t r1, int64_t col, const float* k,
                               double* s1, double* s2) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  VF kv[V], a1[V], a2[V];
  for (int v = 0; v < V; ++v) {
    kv[v] = Center ? hn::LoadU(d, k + col + v * N) : hn::Zero(d);
    a1[v] = hn::Zero(d);
    a2[v] = hn::Zero(d);
  }
  for (int64_t r = r0; r < r1; ++r) {
    const T* row = base + r * width + col;
    for (int v = 0; v < V; ++v) {
      hwy::Prefetch(row + kAhead * width + v * N);
      const VF x = hn::Sub(LoadF32(d, row + v * N), kv[v]);
      if constexpr (Center) a1[v] = hn::Add(a1[v], x);
      a2[v] = hn::MulAdd(x, x, a2[v]);
    }
  }
  for (int v = 0; v < V; ++v) {
    if constexpr (Center) AddToDoubles(a1[v], s1 + col + v * N);
    AddToDoubles(a2[v], s2 + col + v * N);
  }
}

// One shift per (block, group) of col_group_sums: the mean of the group's columns in the
// block's first rows, close to the group's mean, so that Σ(x − K)² − (Σ(x − K))²/n hardly
// cancels. Any value is exact as a shift, so fp32 column sums do. `k`: width floats.
template <bool Center, class T>
void ColGroupShifts(const T* x, const ColLayout& L, int64_t groups, int64_t b, float* k, float* shift) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  const int64_t W = L.width, cg = W / groups;
  const int64_t shift_rows = std::min<int64_t>(L.rows, 8);
  std::fill(k, k + W, 0.0f);  // column sums
  for (int64_t r = 0; r < (Center ? shift_rows : 0); ++r) {
    const T* row = x + (b * L.rows + r) * W;
    int64_t c = 0;
    for (; c + N <= W; c += N) hn::StoreU(hn::Add(hn::LoadU(d, k + c), LoadF32(d, row + c)), d, k + c);
    for (; c < W; ++c) k[c] += ToF32(row[c]);
  }
  for (int64_t g = 0; g < groups; ++g) {
    double sum = 0;
    for (int64_t c = g * cg; c < (g + 1) * cg; ++c) sum += double(k[c]);
    shift[b * groups + g] = float(sum / double(shift_rows * cg));
  }
}

// The group sums of work item (block, row chunk) `item` of col_group_sums. `scratch`:
// this thread's 3·width doubles.
template <bool Center, class T>
void ColGroupChunkSums(const T* x, const ColLayout& L, int64_t groups, int64_t item, const float* shift, double* out,
                       double* scratch) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  const int64_t W = L.width, cg = W / groups, chunks = L.chunks();
  constexpr int kTile = 8;  // vectors of columns per pass over the rows: 24 registers
  double* s1 = scratch;
  double* s2 = s1 + W;
  float* k = reinterpret_cast<float*>(s2 + W);  // the shift of each column
  const int64_t b = item / chunks, j = item % chunks;
  const int64_t r0 = j * L.chunk_rows, r1 = std::min(L.rows, r0 + L.chunk_rows);
  const T* base = x + b * L.rows * W;
  for (int64_t g = 0; g < groups; ++g) std::fill(k + g * cg, k + (g + 1) * cg, shift[b * groups + g]);
  std::fill(s1, s1 + 2 * W, 0.0);
  for (int64_t f0 = r0; f0 < r1; f0 += kFlushRows) {
    const int64_t f1 = std::min(r1, f0 + kFlushRows);
    int64_t c = 0;
    for (; c + kTile * N <= W; c += kTile * N) ColumnTileSums<kTile, Center>(base, W, f0, f1, c, k, s1, s2);
    for (; c + 4 * N <= W; c += 4 * N) ColumnTileSums<4, Center>(base, W, f0, f1, c, k, s1, s2);
    for (; c + 2 * N <= W; c += 2 * N) ColumnTileSums<2, Center>(base, W, f0, f1, c, k, s1, s2);
    for (; c + N <= W; c += N) ColumnTileSums<1, Center>(base, W, f0, f1, c, k, s1, s2);
    for (; c < W; ++c)  // columns past the last full vector
      for (int64_t r = f0; r < f1; ++r) {
        const double v = double(ToF32(base[r * W + c])) - double(k[c]);
        s1[c] += v;
        s2[c] += v * v;
      }
  }
  double* o = out + item * groups * 2;
  for (int64_t g = 0; g < groups; ++g) {
    double t1 = 0, t2 = 0;
    for (int64_t c = g * cg; c < (g + 1) * cg; ++c) {
      t1 += s1[c];
      t2 += s2[c];
    }
    o[2 * g] = Center ? t1 : 0.0;
    o[2 * g + 1] = t2;
  }
}

// Called by every thread of a team (see apply_in_team in kernels.h); no barrier at the
// end. `block` ≥ 0: that block alone, on the calling thread, its chunks in order.
template <bool Center, class T>
void ColGroupSumsT(const T* x, const ColLayout& L, int64_t groups, int64_t block, float* shift, double* out,
                   double* scratch) {
  double* mine = scratch + int64_t(omp_get_thread_num()) * 3 * L.width;
  float* k = reinterpret_cast<float*>(mine + 2 * L.width);
  const int64_t chunks = L.chunks();
  if (block >= 0) {
    ColGroupShifts<Center>(x, L, groups, block, k, shift);
    for (int64_t j = 0; j < chunks; ++j) ColGroupChunkSums<Center>(x, L, groups, block * chunks + j, shift, out, mine);
    return;
  }
#pragma omp for schedule(static)
  for (int64_t b = 0; b < L.blocks; ++b) ColGroupShifts<Center>(x, L, groups, b, k, shift);
#pragma omp for schedule(static) nowait
  for (int64_t item = 0; item < L.blocks * chunks; ++item)
    ColGroupChunkSums<Center>(x, L, groups, item, shift, out, mine);
}

template <class T>
void RunMomentsTyped(const void* x, const RunLayout& L, bool center, Moments* out) {
  if (center) RunMomentsT<true>(static_cast<const T*>(x), L, out);
  else RunMomentsT<false>(static_cast<const T*>(x), L, out);
}
template <class T>
void ColMomentsTyped(const void* x, const ColLayout& L, bool center, Moments* out) {
  if (center) ColMomentsT<true>(static_cast<const T*>(x), L, out);
  else ColMomentsT<false>(static_cast<const T*>(x), L, out);
}

// ---- apply -------------------------------------------------------------------------------

// The parameters of one row of an apply (see ApplyMode): s* are the row's scalars, v*
// its vectors (already offset to the row's block). Not `centred`: the centring is folded
// (Scalar, VecAffine, ColStats: m = m_lo = 0; RowStats: sb = −(m + m_lo)·r).
struct RowApply {
  bool centred = true;
  VF sm, slo, sr, sa, sb;
  const float *vm = nullptr, *vmlo = nullptr, *vr = nullptr, *va = nullptr, *vb = nullptr;
};

// The activation input of the w ≤ Lanes values v at column c of a row; kCentred is
// p.centred, a template argument so that the full-vector loops carry no test for it.
template <ApplyMode Mode, bool kCentred>
HWY_INLINE VF AffineOf(VF v, int64_t c, int64_t w, const RowApply& p) {
  // x − m_hi is exact near the mean (Sterbenz); then the low part.
  if constexpr (Mode == ApplyMode::Scalar) {
    return hn::MulAdd(kCentred ? hn::Sub(hn::Sub(v, p.sm), p.slo) : v, p.sa, p.sb);
  } else if constexpr (Mode == ApplyMode::VecAffine) {
    const VF centred_v =
        kCentred ? hn::Sub(hn::Sub(v, LoadVecPart(p.vm + c, w)), LoadVecPart(p.vmlo + c, w)) : v;
    return hn::MulAdd(centred_v, LoadVecPart(p.va + c, w), LoadVecPart(p.vb + c, w));
  } else if constexpr (Mode == ApplyMode::RowStats) {
    const VF xh = kCentred ? hn::Mul(hn::Sub(hn::Sub(v, p.sm), p.slo), p.sr) : hn::MulAdd(v, p.sr, p.sb);
    return hn::MulAdd(xh, LoadVecPart(p.va + c, w), LoadVecPart(p.vb + c, w));
  } else {
    const VF centred_v =
        kCentred ? hn::Sub(hn::Sub(v, LoadVecPart(p.vm + c, w)), LoadVecPart(p.vmlo + c, w)) : v;
    return hn::MulAdd(hn::Mul(centred_v, LoadVecPart(p.vr + c, w)), p.sa, p.sb);
  }
}
template <ApplyMode Mode>
HWY_INLINE VF AffineOf(VF v, int64_t c, int64_t w, const RowApply& p) {
  return p.centred ? AffineOf<Mode, true>(v, c, w, p) : AffineOf<Mode, false>(v, c, w, p);
}

// The activation of u before y of type T is stored (and the residual, if any, added). SiLU
// to 2^−13.6 (bf16) or 2^−17.3 (fp16) where y is 16-bit with nothing added after it: y stays
// within one rounding, and rounds as SiLU to fp32 accuracy does for all but 0.44 % (bf16)
// and 0.12 % (fp16) of u ~ N(0, 2); the shorter e^−u makes the bf16 GroupNorm+SiLU forward
// 3–10 % faster than degree 4 would. A residual added after SiLU can cancel its value and
// expose the error: there, and for fp32 y, SiLU to fp32 accuracy.
template <class T, bool kResidual>
constexpr int kSiluDegree = kResidual || sizeof(T) == 4 ? 6 : std::is_same_v<T, bfloat16> ? 3 : 4;
template <bool kSilu, class T, bool kResidual>
HWY_INLINE VF Epilogue(VF u) {
  if constexpr (kSilu) return Silu<kSiluDegree<T, kResidual>>(u);
  return u;
}

// Full vectors of y[c0, c1) two at a time (two independent chains through the
// activation), without per-vector tests; returns where the tail starts.
template <ApplyMode Mode, bool kSilu, bool kResidual, bool kCentred, class T>
HWY_INLINE int64_t ApplyFullVectors(const T* x, T* y, const T* res, int64_t c0, int64_t c1, const RowApply& p) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t c = c0;
  for (; c + 2 * N <= c1; c += 2 * N) {
    VF o0 = Epilogue<kSilu, T, kResidual>(AffineOf<Mode, kCentred>(LoadF32(d, x + c), c, N, p));
    VF o1 = Epilogue<kSilu, T, kResidual>(AffineOf<Mode, kCentred>(LoadF32(d, x + c + N), c + N, N, p));
    if constexpr (kResidual) {
      o0 = hn::Add(o0, LoadF32(d, res + c));
      o1 = hn::Add(o1, LoadF32(d, res + c + N));
    }
    StoreF32x2(d, o0, o1, y + c);
  }
  return c;
}

// y[c0, c1) of one row, + res (the row's residual, or null).
template <ApplyMode Mode, bool kSilu, class T>
HWY_INLINE void ApplySpan(const T* x, T* y, const T* res, int64_t c0, int64_t c1, const RowApply& p) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  const auto full = [&](auto residual, auto centred) HWY_ATTR __attribute__((always_inline)) {
    return ApplyFullVectors<Mode, kSilu, decltype(residual)::value, decltype(centred)::value>(x, y, res, c0, c1, p);
  };
  const int64_t tail = WithFlags(res != nullptr, p.centred, full);
  for (int64_t c = tail; c < c1; c += N) {
    const int64_t w = std::min(N, c1 - c);
    const VF u = AffineOf<Mode>(LoadPart(x + c, w), c, w, p);
    if (res) StorePart(hn::Add(Epilogue<kSilu, T, true>(u), LoadPart(res + c, w)), y + c, w);
    else StorePart(Epilogue<kSilu, T, false>(u), y + c, w);
  }
}

// Rows [r0, r1) of the apply: shared among the threads of a team (as apply_in_team, no
// barrier at the end) or, !team, all on the calling thread.
template <ApplyMode Mode, bool kSilu, class T>
void ApplyT(const T* x, T* y, const ApplyLayout& L, int64_t r0, int64_t r1, bool team) {
  const DF d;
  const int64_t pieces = (L.width + kPiece - 1) / kPiece;
  const T* res = static_cast<const T*>(L.residual);
  const auto apply_item = [&](int64_t item) HWY_ATTR {
    const int64_t row = item / pieces;
    const int64_t c0 = (item % pieces) * kPiece, c1 = std::min(L.width, c0 + kPiece);
    const int64_t vo = (row / L.rows_per_block) * L.vec_stride;
    const int64_t ro = row * L.width;
    RowApply p;
    p.sm = p.slo = p.sr = p.sa = p.sb = hn::Zero(d);
    p.centred = L.vec_centred;
    if constexpr (Mode == ApplyMode::Scalar || Mode == ApplyMode::RowStats) {
      p.sm = hn::Set(d, L.row_m[row]);
      p.slo = hn::Set(d, L.row_mlo[row]);
    }
    if constexpr (Mode == ApplyMode::Scalar) p.centred = L.row_m[row] != 0.0f || L.row_mlo[row] != 0.0f;
    if constexpr (Mode == ApplyMode::RowStats) {
      p.sr = hn::Set(d, L.row_r[row]);
      p.centred = !foldable(L.row_m[row], L.row_r[row], L.eps);
      p.sb = hn::Set(d, folded_shift(L.row_m[row], L.row_mlo[row], L.row_r[row], 0.0f));
    }
    if constexpr (Mode == ApplyMode::Scalar || Mode == ApplyMode::ColStats) {
      p.sa = hn::Set(d, L.row_a[row]);
      p.sb = hn::Set(d, L.row_b[row]);
    }
    auto at = [vo](const float* v) { return v ? v + vo : nullptr; };
    p.vm = at(L.vec_m);
    p.vmlo = at(L.vec_mlo);
    p.vr = at(L.vec_r);
    p.va = at(L.vec_a);
    p.vb = at(L.vec_b);
    ApplySpan<Mode, kSilu>(x + ro, y + ro, res ? res + ro : nullptr, c0, c1, p);
  };
  if (!team) {
    for (int64_t item = r0 * pieces; item < r1 * pieces; ++item) apply_item(item);
    return;
  }
#pragma omp for schedule(static) nowait
  for (int64_t item = r0 * pieces; item < r1 * pieces; ++item) apply_item(item);
}

template <class T>
void ApplyTyped(const void* xv, void* yv, const ApplyLayout& L, int64_t r0, int64_t r1, bool team) {
  const T* x = static_cast<const T*>(xv);
  T* y = static_cast<T*>(yv);
  const auto run = [&](auto silu) {
    constexpr bool kSilu = decltype(silu)::value;
    switch (L.mode) {
      case ApplyMode::Scalar: return ApplyT<ApplyMode::Scalar, kSilu>(x, y, L, r0, r1, team);
      case ApplyMode::VecAffine: return ApplyT<ApplyMode::VecAffine, kSilu>(x, y, L, r0, r1, team);
      case ApplyMode::RowStats: return ApplyT<ApplyMode::RowStats, kSilu>(x, y, L, r0, r1, team);
      case ApplyMode::ColStats: return ApplyT<ApplyMode::ColStats, kSilu>(x, y, L, r0, r1, team);
    }
  };
  if (L.act == Activation::SiLU) run(std::true_type{});
  else run(std::false_type{});
}

// The statistics of one batch of spans (see FusedForwardT), written to F.stat_mean/rstd.
struct BatchStats {
  static constexpr int64_t kMax = 8;
  int64_t k0 = 0, k1 = 0;
  // kMax is a multiple of every target's double lanes: FinishSpans stores whole vectors.
  HWY_ALIGN float mean[kMax], rstd[kMax], mlo[kMax];
};

// finish_moments(shifted_moments(...)) of a batch's single-piece spans, in double
// vectors: the same IEEE operations in the same order, so the same bits as the scalar
// path (and as the two-pass path), with one division or square root per Lanes spans
// instead of one per span (scalar, they held ~15 % of a LayerNorm's time).
template <bool Center>
void FinishSpans(int64_t spans, double n, const double* shift, const double* s1, const double* s2, float eps,
                 float* mean, float* rstd, float* mlo) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const int64_t L = int64_t(hn::Lanes(dd));
  const auto vn = hn::Set(dd, n), zero = hn::Zero(dd);
  for (int64_t i = 0; i < spans; i += L) {
    auto m = zero, m2 = hn::LoadU(dd, s2 + i);
    if constexpr (Center) {
      const auto v1 = hn::LoadU(dd, s1 + i);
      m = hn::Add(hn::LoadU(dd, shift + i), hn::Div(v1, vn));
      m2 = hn::Sub(m2, hn::Div(hn::Mul(v1, v1), vn));
      m2 = hn::IfThenElse(hn::Lt(m2, zero), zero, m2);  // std::max(m2, 0): NaN stays NaN
    }
    const auto var = hn::Div(m2, vn);
    const auto mf = hn::DemoteTo(df, m);
    hn::StoreU(mf, df, mean + i);
    hn::StoreU(hn::DemoteTo(df, hn::Sub(m, hn::PromoteTo(dd, mf))), df, mlo + i);
    hn::StoreU(hn::DemoteTo(df, hn::Div(hn::Set(dd, 1.0), hn::Sqrt(hn::Add(var, hn::Set(dd, double(eps)))))), df,
               rstd + i);
  }
}

// A batch's statistics to F.stat_mean/rstd.
inline void PublishBatch(const FusedStats& F, const BatchStats& b) {
  const int64_t spans = std::min(b.k1 - b.k0, BatchStats::kMax);
  std::copy(b.mean, b.mean + spans, F.stat_mean + b.k0);
  std::copy(b.rstd, b.rstd + spans, F.stat_rstd + b.k0);
}

// The shifted sums of a batch of single-piece spans (K, Σ(x − K), Σ(x − K)² per span).
struct BatchSums {
  HWY_ALIGN double shift[BatchStats::kMax] = {}, s1[BatchStats::kMax] = {}, s2[BatchStats::kMax] = {};
};
template <bool Center>
void FinishBatch(const BatchSums& sums, int64_t len, const FusedStats& F, BatchStats& b) {
  const int64_t spans = std::min(b.k1 - b.k0, BatchStats::kMax);  // the bound GCC's array checks see
  FinishSpans<Center>(spans, double(len), sums.shift, sums.s1, sums.s2, F.eps, b.mean, b.rstd, b.mlo);
  PublishBatch(F, b);
}

template <bool Center, class T>
void FusedBatchStats(const T* x, int64_t len, const FusedStats& F, BatchStats& b) {
  const int64_t spans = std::min(b.k1 - b.k0, BatchStats::kMax);
  if (len <= kPiece) {  // one piece per span, as ContiguousMoments would take it
    BatchSums sums;
    for (int64_t i = 0; i < spans; ++i) {
      const T* p = x + (b.k0 + i) * len;
      const float k = Center ? PieceShift(p, len) : 0.0f;
      sums.shift[i] = k;
      SegmentSums<Center>(p, len, k, sums.s1[i], sums.s2[i]);
    }
    return FinishBatch<Center>(sums, len, F, b);
  }
  for (int64_t i = 0; i < spans; ++i)
    finish_moments(ContiguousMoments<Center>(x + (b.k0 + i) * len, len), Center, F.eps, b.mean[i], b.rstd[i],
                   b.mlo[i]);
  PublishBatch(F, b);
}

// The apply terms of span k of a batch: statistics; per row (Scalar mode) or per sample
// (RowStats) the affine terms are set by RowTerms.
inline RowApply SpanApply(const BatchStats& b, int64_t k, float eps) {
  const DF d;
  const float mean = b.mean[k - b.k0], rstd = b.rstd[k - b.k0];
  RowApply p;
  p.sm = hn::Set(d, mean);
  p.slo = hn::Set(d, b.mlo[k - b.k0]);
  p.sr = hn::Set(d, rstd);
  p.centred = !foldable(mean, rstd, eps);
  return p;
}
template <ApplyMode Mode>
HWY_INLINE void RowTerms(RowApply& p, const BatchStats& b, int64_t k, int64_t row, const ApplyLayout& L,
                         const FusedStats& F) {
  const DF d;
  const float mean = b.mean[k - b.k0], rstd = b.rstd[k - b.k0], mlo = b.mlo[k - b.k0];
  if constexpr (Mode == ApplyMode::Scalar) {  // as apply_stats folds the rows of the two-pass path
    const float a = rstd * F.row_k[row];
    p.sa = hn::Set(d, a);
    p.sb = hn::Set(d, p.centred ? L.row_b[row] : folded_shift(mean, mlo, a, L.row_b[row]));
  } else {
    const int64_t vo = (row / L.rows_per_block) * L.vec_stride;
    p.sb = hn::Set(d, folded_shift(mean, mlo, rstd, 0.0f));
    p.va = L.vec_a + vo;
    p.vb = L.vec_b + vo;
  }
}

template <ApplyMode Mode, bool kSilu, class T>
void FusedBatchApply(const T* x, T* y, const ApplyLayout& L, const FusedStats& F, const BatchStats& b) {
  const T* res = static_cast<const T*>(L.residual);
  for (int64_t k = b.k0; k < b.k1; ++k) {
    RowApply p = SpanApply(b, k, F.eps);
    for (int64_t row = k * F.rows_per_stat; row < (k + 1) * F.rows_per_stat; ++row) {
      const int64_t ro = row * L.width;
      RowTerms<Mode>(p, b, k, row, L, F);
      ApplySpan<Mode, kSilu>(x + ro, y + ro, res ? res + ro : nullptr, 0, L.width, p);
    }
  }
}

// The apply of row x → y (RowStats, no activation or residual) and SegmentSums of another
// row `next` of the same width ≤ FlushElements<4>(), in one loop: the same operations in
// the same order as the two apart, so the same bits, but the loads of the next row and
// the stores of this one reach the memory system together, as in a copy, instead of in
// turns.
template <bool kCentred, class T>
HWY_INLINE void ApplyRowWithSums(const T* x, T* y, int64_t width, const RowApply& p, const T* next, float shift,
                                 double& s1, double& s2) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  ShiftedSums<true> acc(shift);
  int64_t i = 0;
  for (; i + 4 * N <= width; i += 4 * N) {
    acc.Add4(next + i);
    for (int64_t h = i; h < i + 4 * N; h += 2 * N) {
      const VF o0 = AffineOf<ApplyMode::RowStats, kCentred>(LoadF32(d, x + h), h, N, p);
      const VF o1 = AffineOf<ApplyMode::RowStats, kCentred>(LoadF32(d, x + h + N), h + N, N, p);
      StoreF32x2(d, o0, o1, y + h);
    }
  }
  if (i < width) ApplySpan<ApplyMode::RowStats, false>(x, y, static_cast<const T*>(nullptr), i, width, p);
  for (; i < width; i += N) acc.AddPart(next + i, std::min(N, width - i));
  acc.AddTo(s1, s2);
}

// FusedForwardT for centred rows of one statistic each (LayerNorm), software-pipelined:
// each thread takes its batches as schedule(static) would, and applies batch i while it
// sums batch i + 1, row with row (ApplyRowWithSums). Same results as FusedForwardT.
template <class T>
void FusedRowsPipelinedT(const T* x, T* y, const ApplyLayout& L, const FusedStats& F, int64_t batch) {
  const int64_t W = L.width, batches = (F.stats + batch - 1) / batch;
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t q = batches / threads, r = batches % threads;
    const int64_t b0 = t * q + std::min(t, r), b1 = b0 + q + (t < r ? 1 : 0);
    auto bounds = [&](BatchStats& b, int64_t bi) {
      b.k0 = bi * batch;
      b.k1 = std::min(F.stats, b.k0 + batch);
    };
    BatchStats cur, next;
    if (b0 < b1) {
      bounds(cur, b0);
      FusedBatchStats<true>(x, W, F, cur);
    }
    for (int64_t bi = b0; bi < b1; ++bi) {
      const bool more = bi + 1 < b1;
      BatchSums sums;
      if (more) bounds(next, bi + 1);
      for (int64_t k = cur.k0; k < cur.k1; ++k) {
        RowApply p = SpanApply(cur, k, F.eps);
        RowTerms<ApplyMode::RowStats>(p, cur, k, k, L, F);
        const int64_t j = k - cur.k0, nk = next.k0 + j;
        if (more && nk < next.k1) {
          const T* np = x + nk * W;
          const float shift = PieceShift(np, W);
          sums.shift[j] = shift;
          if (p.centred) ApplyRowWithSums<true>(x + k * W, y + k * W, W, p, np, shift, sums.s1[j], sums.s2[j]);
          else ApplyRowWithSums<false>(x + k * W, y + k * W, W, p, np, shift, sums.s1[j], sums.s2[j]);
        } else {
          ApplySpan<ApplyMode::RowStats, false>(x + k * W, y + k * W, static_cast<const T*>(nullptr), 0, W, p);
        }
      }
      if (more) {
        FinishBatch<true>(sums, W, F, next);
        cur = next;
      }
    }
  }
}

template <ApplyMode Mode, bool kSilu, bool Center, class T>
void FusedForwardT(const T* x, T* y, const ApplyLayout& L, const FusedStats& F) {
  const int64_t len = F.rows_per_stat * L.width;
  // Short spans go in batches (≤ 16 KiB, ≤ 8 spans): the moments of a batch, then its
  // statistics, then its apply, so that the latency of one span's reduction and square
  // root overlaps with the next span's work instead of serialising every row. (Issuing
  // batch i + 1's statistics before batch i's apply was slower: LayerNorm 2×4096×320
  // fp32 from L3 0.46 → 0.53 ms on one core.)
  const int64_t batch = std::clamp<int64_t>(16384 / int64_t(len * sizeof(T)), 1, BatchStats::kMax);
  const int64_t batches = (F.stats + batch - 1) / batch;
  // 16-bit rows (LayerNorm bf16/f16): batch i's apply with batch i + 1's sums, 10–17 %
  // faster in cache. fp32 rows stay apart: pipelined they were 7–14 % slower on one core
  // in L3 and up to 20 % slower from DRAM (session 9); on a Zen 4 host 2–11 % faster in
  // cache and even from DRAM (session 13; BENCHMARKS.md).
  if constexpr (Mode == ApplyMode::RowStats && !kSilu && Center && sizeof(T) == 2) {
    if (!L.residual && F.rows_per_stat == 1 && len <= FlushElements<4>()) return FusedRowsPipelinedT(x, y, L, F, batch);
  }
#pragma omp parallel for schedule(static)
  for (int64_t bi = 0; bi < batches; ++bi) {
    BatchStats stats;
    stats.k0 = bi * batch;
    stats.k1 = std::min(F.stats, stats.k0 + batch);
    FusedBatchStats<Center>(x, len, F, stats);
    FusedBatchApply<Mode, kSilu>(x, y, L, F, stats);
  }
}

template <class T>
void FusedForwardTyped(const void* xv, void* yv, const ApplyLayout& L, const FusedStats& F) {
  const T* x = static_cast<const T*>(xv);
  T* y = static_cast<T*>(yv);
  const auto run = [&](auto silu, auto center) {
    constexpr bool kSilu = decltype(silu)::value, kCenter = decltype(center)::value;
    if (L.mode == ApplyMode::Scalar) FusedForwardT<ApplyMode::Scalar, kSilu, kCenter>(x, y, L, F);
    else FusedForwardT<ApplyMode::RowStats, kSilu, kCenter>(x, y, L, F);
  };
  WithFlags(L.act == Activation::SiLU, F.center, run);
}

// Channels-first Position statistics tile by tile: kColChunk positions × all channels of
// a block, read from memory by the moments and again from cache by the apply. Moments as
// col_moments (chunks of kColRows channels merged in order), so equal to the two-pass
// path's.
template <bool kSilu, bool Center, class T>
void FusedColForwardT(const T* x, T* y, const ApplyLayout& L, const FusedStats& F) {
  const DF d;
  const int64_t C = L.rows_per_block, S = L.width, blocks = L.rows / C;
  const int64_t tiles = (S + kColChunk - 1) / kColChunk;
  const T* res = static_cast<const T*>(L.residual);
#pragma omp parallel for schedule(static)
  for (int64_t item = 0; item < blocks * tiles; ++item) {
    const int64_t b = item / tiles, s0 = (item % tiles) * kColChunk, s1 = std::min(S, s0 + kColChunk);
    const T* xb = x + b * C * S;
    Moments moments[kColChunk];
    for (int64_t r0 = 0; r0 < C; r0 += kColRows)
      MergeChunkColumnMoments<Center>(xb, S, r0, std::min(C, r0 + kColRows), s0, s1, moments);
    // Indexed by absolute position, as ApplySpan reads its vectors.
    HWY_ALIGN float mean[kColChunk], mlo[kColChunk], rstd[kColChunk];
    for (int64_t s = 0; s < s1 - s0; ++s) {
      finish_moments(moments[s], Center, F.eps, mean[s], rstd[s], mlo[s]);
      F.stat_mean[b * S + s0 + s] = mean[s];
      F.stat_rstd[b * S + s0 + s] = rstd[s];
    }
    RowApply p;
    p.centred = Center;
    p.vm = mean - s0;
    p.vmlo = mlo - s0;
    p.vr = rstd - s0;
    for (int64_t row = b * C; row < (b + 1) * C; ++row) {
      const int64_t ro = row * S;
      p.sa = hn::Set(d, L.row_a[row]);
      p.sb = hn::Set(d, L.row_b[row]);
      ApplySpan<ApplyMode::ColStats, kSilu>(x + ro, y + ro, res ? res + ro : nullptr, s0, s1, p);
    }
  }
}

template <class T>
void FusedColForwardTyped(const void* xv, void* yv, const ApplyLayout& L, const FusedStats& F) {
  const T* x = static_cast<const T*>(xv);
  T* y = static_cast<T*>(yv);
  WithFlags(L.act == Activation::SiLU, F.center, [&](auto silu, auto center) {
    FusedColForwardT<decltype(silu)::value, decltype(center)::value>(x, y, L, F);
  });
}

// ---- backward ----------------------------------------------------------------------------

// x̂ = ((x − m) − m_lo)·r: x − m is exact near the mean (Sterbenz), then the low part.
inline VF Normalized(VF x, VF m, VF mlo, VF r) { return hn::Mul(hn::Sub(hn::Sub(x, m), mlo), r); }

// du = dy·SiLU'(x̂·k + q) or dy.
inline VF GradIn(VF dy, VF xh, VF k, VF q, bool silu) {
  return silu ? hn::Mul(dy, SiluGrad(hn::MulAdd(xh, k, q))) : dy;
}

// The vectors of a ColVectors from which x̂ and u come: m, m_lo, r, k, q, or where folded
// b′, (unused), r, a, b (see ColNormalized, ColGradIn).
struct ColTerms {
  const float *m, *mlo, *r, *k, *q;
};
template <bool kFold>
ColTerms ColTermsOf(const ColVectors& P) {
  return kFold ? ColTerms{P.xh_shift, P.mlo, P.r, P.u_scale, P.u_shift} : ColTerms{P.m, P.mlo, P.r, P.k, P.q};
}
// x̂ of a column vector: x·r + b′ folded (m holds b′), else ((x − m) − m_lo)·r.
template <bool kFold>
HWY_INLINE VF ColNormalized(VF x, VF m, VF mlo, VF r) {
  if constexpr (kFold) return hn::MulAdd(x, r, m);
  else return Normalized(x, m, mlo, r);
}
// du = dy·SiLU'(u) with u = x·a + b folded (k, q hold a, b), else x̂·k + q; or du = dy.
template <bool kFold>
HWY_INLINE VF ColGradIn(VF dy, VF x, VF xh, VF k, VF q, bool silu) {
  return GradIn(dy, kFold ? x : xh, k, q, silu);
}

// The normalization of one row with scalar statistics: x̂ = ((x − m) − m_lo)·r, or where
// the row is foldable x̂ = x·r + b′ with b′ = −(m + m_lo)·r (one FMA, as the forward's
// apply folds it); `m` holds b′ then.
struct RowNorm {
  VF m, mlo, r;
  bool fold;
};
inline RowNorm RowNormOf(float m, float mlo, float r, float eps) {
  const DF d;
  const bool fold = foldable(m, r, eps);
  return {hn::Set(d, fold ? folded_shift(m, mlo, r, 0.0f) : m), hn::Set(d, mlo), hn::Set(d, r), fold};
}
// A row's statistic (m, m_lo, r) and its RowNorm; RowStatOf gives that of row `row` of S.
struct RowStat {
  float m, mlo, r;
  RowNorm n;
};
inline RowStat RowStatOf(const RowScalars& S, int64_t row) {
  return {S.m[row], S.mlo[row], S.r[row], RowNormOf(S.m[row], S.mlo[row], S.r[row], S.eps)};
}
template <bool kFold>
HWY_INLINE VF NormalizedRow(VF x, const RowNorm& n) {
  if constexpr (kFold) return hn::MulAdd(x, n.r, n.m);
  return Normalized(x, n.m, n.mlo, n.r);
}

// Σdu and Σdu·x̂ over one row of `width` with scalars k, q: two fp32 lane accumulators
// per sum over ≤ FlushElements(), then double.
template <bool kSilu, bool kFold, class T>
HWY_INLINE void RowGradSumsOne(const T* xr, const T* gr, int64_t width, const RowNorm& n, VF k, VF q, double& s1,
                               double& s2, float* du_out) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  s1 = 0;
  s2 = 0;
  for (int64_t i = 0; i < width;) {
    const int64_t end = std::min(width, i + FlushElements());
    VF a1 = hn::Zero(d), a2 = hn::Zero(d), b1 = hn::Zero(d), b2 = hn::Zero(d);
    for (; i + 2 * N <= end; i += 2 * N) {
      const VF xh0 = NormalizedRow<kFold>(LoadF32(d, xr + i), n);
      const VF xh1 = NormalizedRow<kFold>(LoadF32(d, xr + i + N), n);
      const VF du0 = GradIn(LoadF32(d, gr + i), xh0, k, q, kSilu);
      const VF du1 = GradIn(LoadF32(d, gr + i + N), xh1, k, q, kSilu);
      if (du_out) {
        hn::StoreU(du0, d, du_out + i);
        hn::StoreU(du1, d, du_out + i + N);
      }
      a1 = hn::Add(a1, du0);
      b1 = hn::Add(b1, du1);
      a2 = hn::MulAdd(du0, xh0, a2);
      b2 = hn::MulAdd(du1, xh1, b2);
    }
    for (; i < end; i += N) {
      const int64_t w = std::min(N, end - i);
      const VF xh = NormalizedRow<kFold>(LoadPart(xr + i, w), n);
      // Lanes past w load dy = 0, so du = 0 there.
      const VF du = GradIn(LoadPart(gr + i, w), xh, k, q, kSilu);
      if (du_out) StorePart(du, du_out + i, w);
      a1 = hn::Add(a1, du);
      a2 = hn::MulAdd(du, xh, a2);
    }
    s1 += SumLanes(hn::Add(a1, b1));
    s2 += SumLanes(hn::Add(a2, b2));
  }
}
template <bool kSilu, class T>
HWY_INLINE void RowGradSumsOf(const T* xr, const T* gr, int64_t width, const RowNorm& n, VF k, VF q, double& s1,
                            double& s2, float* du_out = nullptr) {
  if (n.fold) RowGradSumsOne<kSilu, true>(xr, gr, width, n, k, q, s1, s2, du_out);
  else RowGradSumsOne<kSilu, false>(xr, gr, width, n, k, q, s1, s2, du_out);
}

// Calls f(c, w, full) for the vectors of columns [c0, c1): full ones (w = Lanes, full =
// std::true_type: plain loads and stores, no per-vector tests), then a partial last one.
template <class F>
HWY_INLINE void ForColumnVectors(int64_t c0, int64_t c1, F f) {
  const int64_t N = int64_t(hn::Lanes(DF()));
  int64_t c = c0;
  for (; c + N <= c1; c += N) f(c, N, std::true_type{});
  if (c < c1) f(c, c1 - c, std::false_type{});
}
template <bool kFull, class T>
HWY_INLINE VF LoadCols(const T* p, int64_t w) {
  if constexpr (kFull) return LoadF32(DF(), p);
  else return LoadPart(p, w);
}
template <bool kFull, class T>
HWY_INLINE void StoreCols(VF v, T* p, int64_t w) {
  if constexpr (kFull) StoreF32(DF(), v, p);
  else StorePart(v, p, w);
}

// Calls pair(c) for the full pairs of vectors [c, c + 2·Lanes) of columns [0, w), then
// one(c, n, full) for the rest (ForColumnVectors: a full vector and a partial one at most).
template <class P, class F>
HWY_INLINE void ForColumnPairs(int64_t w, P pair, F one) {
  const int64_t N = int64_t(hn::Lanes(DF()));
  int64_t c = 0;
  for (; c + 2 * N <= w; c += 2 * N) pair(c);
  ForColumnVectors(c, w, one);
}

// Calls f(c, n, full) → VF for the vectors of columns [0, w) and stores each result to
// out + c: full vectors in pairs (StoreF32x2: one conversion for two bf16 vectors), then
// a last full and a partial one.
template <class T, class F>
HWY_INLINE void StoreColumnVectors(T* out, int64_t w, F f) {
  const int64_t N = int64_t(hn::Lanes(DF()));
  ForColumnPairs(
      w,
      [&](int64_t c) HWY_ATTR __attribute__((always_inline)) {
        const VF v0 = f(c, N, std::true_type{}), v1 = f(c + N, N, std::true_type{});
        StoreF32x2(DF(), v0, v1, out + c);
      },
      [&](int64_t c, int64_t n, auto full) HWY_ATTR __attribute__((always_inline)) {
        StoreCols<decltype(full)::value>(f(c, n, full), out + c, n);
      });
}

// dx = r·(k·du − c1 − x̂·c2) over [i0, i1) of one centred row; du from `du_in` where given
// (it may be `out` itself: each pair of vectors is loaded before it is stored), else from dy.
template <bool kSilu, class T>
HWY_INLINE void RowGradDxCentred(const T* xr, const T* gr, T* out, int64_t i0, int64_t i1, const RowNorm& n, VF k,
                                 VF q, VF c1, VF c2, const float* du_in) {
  StoreColumnVectors(out + i0, i1 - i0, [&](int64_t c, int64_t w, auto full) HWY_ATTR __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    const int64_t i = i0 + c;
    const VF xh = NormalizedRow<false>(LoadCols<kFull>(xr + i, w), n);
    const VF du = du_in ? LoadCols<kFull>(du_in + i, w) : GradIn(LoadCols<kFull>(gr + i, w), xh, k, q, kSilu);
    const VF g = hn::NegMulAdd(xh, c2, hn::Sub(hn::Mul(k, du), c1));
    return hn::Mul(n.r, g);
  });
}
// The same where the row folds: dx = p·du + q_x·x + o (folded_dx_terms); x̂ = x·r + b′ only
// for SiLU's u = x̂·k + q.
template <bool kSilu, class T>
HWY_INLINE void RowGradDxFolded(const T* xr, const T* gr, T* out, int64_t i0, int64_t i1, const RowNorm& n, VF k,
                                VF q, VF p, VF qx, VF o, const float* du_in) {
  StoreColumnVectors(out + i0, i1 - i0, [&](int64_t c, int64_t w, auto full) HWY_ATTR __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    const int64_t i = i0 + c;
    const VF x = LoadCols<kFull>(xr + i, w);
    VF du;
    if (du_in) du = LoadCols<kFull>(du_in + i, w);
    else if constexpr (kSilu) du = GradIn(LoadCols<kFull>(gr + i, w), NormalizedRow<true>(x, n), k, q, true);
    else du = LoadCols<kFull>(gr + i, w);
    return hn::MulAdd(p, du, hn::MulAdd(qx, x, o));
  });
}
// dx over [i0, i1) of a row with statistic st, scalars k, q and coefficients c1, c2 (see
// RowGradDxCentred).
template <bool kSilu, class T>
HWY_INLINE void RowGradDxSpan(const T* xr, const T* gr, T* out, int64_t i0, int64_t i1, const RowStat& st,
                              float k, float q, float c1, float c2, const float* du_in = nullptr) {
  const DF d;
  if (st.n.fold) {
    float p, qx, o;
    folded_dx_terms(st.r, k, st.m, st.mlo, c1, c2, p, qx, o);
    RowGradDxFolded<kSilu>(xr, gr, out, i0, i1, st.n, hn::Set(d, k), hn::Set(d, q), hn::Set(d, p),
                           hn::Set(d, qx), hn::Set(d, o), du_in);
  } else {
    RowGradDxCentred<kSilu>(xr, gr, out, i0, i1, st.n, hn::Set(d, k), hn::Set(d, q), hn::Set(d, c1),
                            hn::Set(d, c2), du_in);
  }
}

template <bool kSilu, class T>
void RowGradSumsT(const T* x, const T* dy, const RowScalars& S, double* sum_du, double* sum_dux) {
  const DF d;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < S.rows; ++row) {
    RowGradSumsOf<kSilu>(x + row * S.width, dy + row * S.width, S.width, RowStatOf(S, row).n,
                         hn::Set(d, S.k[row]), hn::Set(d, S.q[row]), sum_du[row], sum_dux[row]);
  }
}

template <bool kSilu, class T>
void RowGradDxT(const T* x, const T* dy, T* dx, const RowScalars& S, const float* c1v, const float* c2v) {
  const int64_t pieces = (S.width + kPiece - 1) / kPiece;
#pragma omp parallel for schedule(static)
  for (int64_t item = 0; item < S.rows * pieces; ++item) {
    const int64_t row = item / pieces;
    const int64_t i0 = (item % pieces) * kPiece, i1 = std::min(S.width, i0 + kPiece);
    const int64_t o = row * S.width;
    RowGradDxSpan<kSilu>(x + o, dy + o, dx + o, i0, i1, RowStatOf(S, row), S.k[row], S.q[row], c1v[row],
                         c2v[row]);
  }
}

// Span by span: the rows' sums, the statistic's c1 = center·Σk·A/count, c2 = Σk·B/count
// (summed in row order, as the engine's group_coefficients), then dx.
template <bool kSilu, class T>
void FusedRowBackwardT(const T* x, const T* dy, T* dx, const RowScalars& S, const FusedGrad& F, double* sum_du,
                       double* sum_dux) {
  const DF d;
  const double count = double(F.rows_per_stat * S.width);
  const int64_t stats = S.rows / F.rows_per_stat;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < stats; ++k) {
    const int64_t r0 = k * F.rows_per_stat, r1 = r0 + F.rows_per_stat;
    double t1 = 0, t2 = 0;
    // With SiLU, du (fp32, as computed) waits between the passes in dx itself (fp32
    // storage, dx not aliasing x, which is read again) or in the thread's scratch.
    float* kept = nullptr;
    if constexpr (kSilu) {
      if constexpr (std::is_same_v<T, float>) {
        if (static_cast<const void*>(dx) != static_cast<const void*>(x)) kept = dx + r0 * S.width;
      }
      if (!kept && F.du_scratch) kept = F.du_scratch + int64_t(omp_get_thread_num()) * (r1 - r0) * S.width;
    }
    // The statistic's rows share m, m_lo and r: one RowStat for all (its RowNormOf per
    // row took 5-8 % of 2×1280×16×16's backward, rows of 256). Its rows are consecutive
    // channels of one sample, whose k and q are consecutive in the affine table.
    const StatsAndAffine& A = F.terms;
    const RowStat st{A.mean[k], A.mean_lo[k], A.rstd[k], RowNormOf(A.mean[k], A.mean_lo[k], A.rstd[k], S.eps)};
    const int64_t affine_at = (r0 / F.channels) * A.affine_stride + r0 % F.channels;
    const float *kr = A.k + affine_at, *qr = A.q + affine_at;  // of row r0
    for (int64_t row = r0; row < r1; ++row) {
      const float kv = kr[row - r0];
      RowGradSumsOf<kSilu>(x + row * S.width, dy + row * S.width, S.width, st.n, hn::Set(d, kv),
                           hn::Set(d, qr[row - r0]), sum_du[row], sum_dux[row],
                           kept ? kept + (row - r0) * S.width : nullptr);
      t1 += double(kv) * sum_du[row];
      t2 += double(kv) * sum_dux[row];
    }
    float c1f, c2f;
    dx_coefficients(t1, t2, count, F.center, F.stats_constant, c1f, c2f);
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t o = row * S.width;
      RowGradDxSpan<kSilu>(x + o, dy + o, dx + o, 0, S.width, st, kr[row - r0], qr[row - r0], c1f, c2f,
                           kept ? kept + (row - r0) * S.width : nullptr);
    }
  }
}

// Σdu and Σdu·x̂ over rows [r0, r1) (row stride `width`) of V full vectors of columns
// from col (the ColTerms at vo + col), added in double to s1[col..], s2[col..]; kKeep: du
// is also stored to keep[row·keep_stride + col].
template <int V, bool kSilu, bool kKeep, bool kFold, class T>
HWY_INLINE void ColGradTileSums(const T* x, const T* dy, int64_t width, int64_t r0, int64_t r1, int64_t col,
                                const ColVectors& P, int64_t vo, float* keep, int64_t keep_stride, double* s1,
                                double* s2) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  const ColTerms t = ColTermsOf<kFold>(P);
  VF m[V], mlo[V], r[V], a1[V], a2[V];
  for (int v = 0; v < V; ++v) {
    const int64_t c = vo + col + v * N;
    m[v] = hn::LoadU(d, t.m + c);
    mlo[v] = kFold ? hn::Zero(d) : hn::LoadU(d, t.mlo + c);
    r[v] = hn::LoadU(d, t.r + c);
    a1[v] = hn::Zero(d);
    a2[v] = hn::Zero(d);
  }
  for (int64_t row = r0; row < r1; ++row) {
    const int64_t o = row * width + col;
    for (int v = 0; v < V; ++v) {
      hwy::Prefetch(x + o + kAhead * width + v * N);  // as in ColumnTileSums
      hwy::Prefetch(dy + o + kAhead * width + v * N);
      const VF xv = LoadF32(d, x + o + v * N);
      const VF xh = ColNormalized<kFold>(xv, m[v], mlo[v], r[v]);
      VF du = LoadF32(d, dy + o + v * N);
      if constexpr (kSilu) {
        const int64_t c = vo + col + v * N;
        du = ColGradIn<kFold>(du, xv, xh, hn::LoadU(d, t.k + c), hn::LoadU(d, t.q + c), true);
        if constexpr (kKeep) hn::StoreU(du, d, keep + row * keep_stride + col + v * N);
      }
      a1[v] = hn::Add(a1[v], du);
      a2[v] = hn::MulAdd(du, xh, a2[v]);
    }
  }
  for (int v = 0; v < V; ++v) {
    AddToDoubles(a1[v], s1 + col + v * N);
    AddToDoubles(a2[v], s2 + col + v * N);
  }
}

// The sums of ColGradSumsSpan with the rows read whole, in memory order: each column's
// fp32 accumulator lives in L1 (acc1, acc2) instead of a register, and takes the same
// additions in the same order as in a column tile, so the same bits. w is a multiple of
// Lanes and at most kRowOrderMaxWidth.
template <bool kSilu, bool kKeep, bool kFold, class T>
void ColGradRowOrderSums(const T* x, const T* dy, int64_t width, int64_t w, int64_t r0, int64_t r1,
                         const ColVectors& P, int64_t vo, float* keep, int64_t keep_stride, double* s1, double* s2) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  const ColTerms t = ColTermsOf<kFold>(P);
  HWY_ALIGN float acc1[kRowOrderMaxWidth], acc2[kRowOrderMaxWidth];
  for (int64_t f0 = r0; f0 < r1; f0 += kFlushRows) {
    const int64_t f1 = std::min(r1, f0 + kFlushRows);
    for (int64_t row = f0; row < f1; ++row) {
      for (int64_t c = 0; c < w; c += N) {
        const int64_t o = row * width + c, v = vo + c;
        const VF xv = LoadF32(d, x + o);
        const VF xh = ColNormalized<kFold>(xv, hn::LoadU(d, t.m + v), kFold ? hn::Zero(d) : hn::LoadU(d, t.mlo + v),
                                           hn::LoadU(d, t.r + v));
        VF du = LoadF32(d, dy + o);
        if constexpr (kSilu) {
          du = ColGradIn<kFold>(du, xv, xh, hn::LoadU(d, t.k + v), hn::LoadU(d, t.q + v), true);
          if constexpr (kKeep) hn::StoreU(du, d, keep + row * keep_stride + c);
        }
        // The first row starts the sums, as a tile's zeroed registers plus it would.
        hn::Store(row == f0 ? du : hn::Add(hn::Load(d, acc1 + c), du), d, acc1 + c);
        hn::Store(row == f0 ? hn::Mul(du, xh) : hn::MulAdd(du, xh, hn::Load(d, acc2 + c)), d, acc2 + c);
      }
    }
    for (int64_t c = 0; c < w; c += N) {
      AddToDoubles(hn::Load(d, acc1 + c), s1 + c);
      AddToDoubles(hn::Load(d, acc2 + c), s2 + c);
    }
  }
}

// ColGradTileSums over columns [0, w) of rows [r0, r1): fp32 lanes over ≤ kFlushRows
// rows, then double. With P.rows_in_order, rows wider than one tile go through
// ColGradRowOrderSums (same bits).
template <bool kSilu, bool kKeep, bool kFold, class T>
void ColGradSumsSpan(const T* x, const T* dy, int64_t width, int64_t w, int64_t r0, int64_t r1, const ColVectors& P,
                     int64_t vo, float* keep, int64_t keep_stride, double* s1, double* s2) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  constexpr int kTile = 4;  // column vectors per pass over the rows: 20 registers (16 folded)
  if (P.rows_in_order && w > kTile * N && w % N == 0 && w <= kRowOrderMaxWidth)
    return ColGradRowOrderSums<kSilu, kKeep, kFold>(x, dy, width, w, r0, r1, P, vo, keep, keep_stride, s1, s2);
  for (int64_t f0 = r0; f0 < r1; f0 += kFlushRows) {
    const int64_t f1 = std::min(r1, f0 + kFlushRows);
    int64_t c = 0;
    for (; c + kTile * N <= w; c += kTile * N)
      ColGradTileSums<kTile, kSilu, kKeep, kFold>(x, dy, width, f0, f1, c, P, vo, keep, keep_stride, s1, s2);
    for (; c + 2 * N <= w; c += 2 * N)
      ColGradTileSums<2, kSilu, kKeep, kFold>(x, dy, width, f0, f1, c, P, vo, keep, keep_stride, s1, s2);
    for (; c + N <= w; c += N)
      ColGradTileSums<1, kSilu, kKeep, kFold>(x, dy, width, f0, f1, c, P, vo, keep, keep_stride, s1, s2);
    if (c < w) {  // a partial last vector
      const int64_t n = w - c;
      const ColTerms t = ColTermsOf<kFold>(P);
      const VF m = LoadVecPart(t.m + vo + c, n), mlo = kFold ? hn::Zero(d) : LoadVecPart(t.mlo + vo + c, n);
      const VF r = LoadVecPart(t.r + vo + c, n);
      const VF k = LoadVecPart(t.k + vo + c, n), q = LoadVecPart(t.q + vo + c, n);
      VF a1 = hn::Zero(d), a2 = hn::Zero(d);
      for (int64_t row = f0; row < f1; ++row) {
        const VF xv = LoadPart(x + row * width + c, n);
        const VF xh = ColNormalized<kFold>(xv, m, mlo, r);
        const VF du = ColGradIn<kFold>(LoadPart(dy + row * width + c, n), xv, xh, k, q, kSilu);  // 0 past n
        if constexpr (kKeep) StorePart(du, keep + row * keep_stride + c, n);
        a1 = hn::Add(a1, du);
        a2 = hn::MulAdd(du, xh, a2);
      }
      HWY_ALIGN float t1[hn::MaxLanes(d)], t2[hn::MaxLanes(d)];
      hn::Store(a1, d, t1);
      hn::Store(a2, d, t2);
      for (int64_t l = 0; l < n; ++l) {
        s1[c + l] += t1[l];
        s2[c + l] += t2[l];
      }
    }
  }
}

template <bool kSilu, bool kKeep, bool kFold, class T>
void ColGradSumsT(const T* x, const T* dy, const ColVectors& P, double* out_du, double* out_dux) {
  const ColLayout& L = P.layout;
  const int64_t W = L.width, chunks = L.chunks();
#pragma omp parallel for schedule(static)
  for (int64_t item = 0; item < L.blocks * chunks; ++item) {
    const int64_t b = item / chunks, j = item % chunks;
    const int64_t r0 = j * L.chunk_rows, r1 = std::min(L.rows, r0 + L.chunk_rows);
    double* s1 = out_du + item * W;
    double* s2 = out_dux + item * W;
    std::fill(s1, s1 + W, 0.0);
    std::fill(s2, s2 + W, 0.0);
    ColGradSumsSpan<kSilu, kKeep, kFold>(x + b * L.rows * W, dy + b * L.rows * W, W, W, r0, r1, P, b * W,
                                         kKeep ? P.du + b * L.rows * W : nullptr, W, s1, s2);
  }
}

// dx = p·du + q·x + o over columns [0, w) of one row, with the per-column vectors of f at
// c: the folded form of r·(k·du − c1 − x̂·c2). du = dy, or with kSilu dy·SiLU'(x·p + b)
// (b = f.u_shift), or with kKept read from `kept`.
template <bool kSilu, bool kKept, class T>
HWY_INLINE void FoldedDxRow(const T* xr, const T* gr, const float* kept, T* dr, int64_t w, const FoldedDx& f) {
  StoreColumnVectors(dr, w, [=](int64_t c, int64_t n, auto full) HWY_ATTR __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    const VF x = LoadCols<kFull>(xr + c, n), p = LoadCols<kFull>(f.p + c, n);
    const VF t = hn::MulAdd(LoadCols<kFull>(f.q + c, n), x, LoadCols<kFull>(f.o + c, n));
    VF du;
    if constexpr (kKept) du = LoadCols<kFull>(kept + c, n);
    else if constexpr (kSilu) du = GradIn(LoadCols<kFull>(gr + c, n), x, p, LoadCols<kFull>(f.u_shift + c, n), true);
    else du = LoadCols<kFull>(gr + c, n);
    return hn::MulAdd(p, du, t);
  });
}

// dx = r·(k·du − c1 − x̂·c2) over columns [0, w) of one row, with the vectors of V at
// vo + c and c1v, c2v at c. kKept: du is read from `kept` (SiLU's, kept by the sums), not
// computed from dy.
template <bool kKept, class T>
HWY_INLINE void DxRow(const T* xr, const T* gr, const float* kept, T* dr, int64_t w, const ColVectors& V,
                      int64_t vo, const float* c1v, const float* c2v) {
  const bool silu = V.act == Activation::SiLU;
  StoreColumnVectors(dr, w, [=](int64_t c, int64_t n, auto full) HWY_ATTR __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    const int64_t i = vo + c;
    const VF r = LoadCols<kFull>(V.r + i, n), k = LoadCols<kFull>(V.k + i, n);
    const VF xh =
        Normalized(LoadCols<kFull>(xr + c, n), LoadCols<kFull>(V.m + i, n), LoadCols<kFull>(V.mlo + i, n), r);
    const VF du = kKept ? LoadCols<kFull>(kept + c, n)
                        : GradIn(LoadCols<kFull>(gr + c, n), xh, k, LoadCols<kFull>(V.q + i, n), silu);
    const VF g = hn::NegMulAdd(xh, LoadCols<kFull>(c2v + c, n), hn::Sub(hn::Mul(k, du), LoadCols<kFull>(c1v + c, n)));
    return hn::Mul(r, g);
  });
}

template <bool kSilu, bool kKept, class T>
void ColGradDxFoldedT(const T* x, const T* dy, T* dx, const ColLayout& L, const FoldedDx& f) {
  const int64_t rows = L.blocks * L.rows, W = L.width;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t vo = (row / L.rows) * W;
    const FoldedDx fr{f.p + vo, f.q + vo, f.o + vo, kSilu && !kKept ? f.u_shift + vo : nullptr};
    FoldedDxRow<kSilu, kKept>(x + row * W, dy + row * W, kKept ? f.du + row * W : nullptr, dx + row * W, W, fr);
  }
}

template <bool kKept, class T>
void ColGradDxT(const T* x, const T* dy, T* dx, const ColVectors& V, const float* c1v, const float* c2v) {
  const ColLayout& L = V.layout;
  const int64_t rows = L.blocks * L.rows, W = L.width;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t vo = (row / L.rows) * W;
    DxRow<kKept>(x + row * W, dy + row * W, kKept ? V.du + row * W : nullptr, dx + row * W, W, V, vo, c1v + vo,
                 c2v + vo);
  }
}

// The column vectors of columns [c0, c0 + w) of block b (whole groups of cpg columns), as
// the engine's channel_grad_rows and folded_col_terms make them for the whole input, in
// kFusedColTermArrays − 5 arrays of w floats from `out`: V with them, offset 0 at c0.
ColVectors TileColVectors(const ColVectors& V, const FusedColGrad& F, int64_t b, int64_t c0, int64_t w,
                          int64_t cpg, float* out) {
  float *m = out, *mlo = m + w, *r = mlo + w, *k = r + w, *q = k + w;
  for (int64_t c = 0; c < w; ++c) {
    const StatsAndAffine& A = F.terms;
    const int64_t stat = b * F.groups + (c0 + c) / cpg, ac = b * A.affine_stride + c0 + c;
    m[c] = A.mean[stat];
    mlo[c] = A.mean_lo[stat];
    r[c] = A.rstd[stat];
    k[c] = A.k[ac];
    q[c] = A.q[ac];
  }
  ColVectors T = V;
  T.m = m, T.mlo = mlo, T.r = r, T.k = k, T.q = q;
  T.xh_shift = T.u_scale = T.u_shift = nullptr;
  if (F.fold) {
    float *xh_shift = q + w, *u_scale = xh_shift + w, *u_shift = u_scale + w;
    for (int64_t c = 0; c < w; ++c)
      folded_col_terms(m[c], mlo[c], r[c], k[c], q[c], xh_shift[c], u_scale[c], u_shift[c]);
    T.xh_shift = xh_shift, T.u_scale = u_scale, T.u_shift = u_shift;
  }
  return T;
}

template <bool kSilu, bool kFold, class T>
void FusedColGroupBackwardT(const T* x, const T* dy, T* dx, const ColVectors& V, const FusedColGrad& F,
                            double* out_du, double* out_dux) {
  const ColLayout& L = V.layout;
  const int64_t W = L.width, S = L.rows, cpg = W / F.groups, tiles = (F.groups + F.tile_groups - 1) / F.tile_groups;
  const int64_t tile_w = F.tile_groups * cpg;
  const double count = double(S * cpg);
#pragma omp parallel for schedule(static)
  for (int64_t item = 0; item < L.blocks * tiles; ++item) {
    const int64_t b = item / tiles, g0 = (item % tiles) * F.tile_groups;
    const int64_t g1 = std::min(F.groups, g0 + F.tile_groups), c0 = g0 * cpg, w = (g1 - g0) * cpg;
    const int64_t vo = b * W + c0, o = b * S * W + c0;  // the tile's column sums and first element
    const int64_t t = omp_get_thread_num();
    double* chunk1 = F.chunk_sums + t * 2 * tile_w;
    double* chunk2 = chunk1 + tile_w;
    float* c1v = F.scratch + t * F.scratch_floats;
    float *c2v = c1v + w, *p = c2v + w, *q = p + w, *oo = q + w;
    const ColVectors P = TileColVectors(V, F, b, c0, w, cpg, oo + w);  // offset 0 at c0
    // With SiLU, du waits between the passes in dx itself or in the thread's scratch.
    float* kept = nullptr;
    int64_t kept_stride = 0;
    if constexpr (kSilu) {
      kept = c1v + kFusedColTermArrays * tile_w, kept_stride = w;
      if constexpr (std::is_same_v<T, float>) {
        if (F.du_in_dx) kept = dx + o, kept_stride = W;
      }
    }
    // Column sums chunk by chunk (L.chunk_rows rows), the chunks added in order: the
    // additions of col_grad_sums and the engine's sum of its chunks, so the same bits.
    double* s1 = out_du + vo;
    double* s2 = out_dux + vo;
    std::fill(s1, s1 + w, 0.0);
    std::fill(s2, s2 + w, 0.0);
    for (int64_t r0 = 0; r0 < S; r0 += L.chunk_rows) {
      const int64_t r1 = std::min(S, r0 + L.chunk_rows);
      std::fill(chunk1, chunk1 + w, 0.0);
      std::fill(chunk2, chunk2 + w, 0.0);
      ColGradSumsSpan<kSilu, kSilu, kFold>(x + o, dy + o, W, w, r0, r1, P, 0, kept, kept_stride, chunk1, chunk2);
      for (int64_t c = 0; c < w; ++c) {
        s1[c] += chunk1[c];
        s2[c] += chunk2[c];
      }
    }
    for (int64_t a = 0; a < w; a += cpg) {  // the tile's groups, as group_coefficients
      double t1 = 0, t2 = 0;
      add_weighted_channel_sums(P.k + a, s1 + a, s2 + a, cpg, t1, t2);
      float g1, g2;
      dx_coefficients(t1, t2, count, F.center, F.stats_constant, g1, g2);
      std::fill(c1v + a, c1v + a + cpg, g1);
      std::fill(c2v + a, c2v + a + cpg, g2);
    }
    if constexpr (kFold) {
      for (int64_t c = 0; c < w; ++c)
        folded_dx_terms(P.r[c], P.k[c], P.m[c], P.mlo[c], c1v[c], c2v[c], p[c], q[c], oo[c]);
      const FoldedDx f{p, q, oo};  // du is kept (SiLU) or dy
      for (int64_t row = 0; row < S; ++row) {
        const int64_t ro = o + row * W;
        FoldedDxRow<kSilu, kSilu>(x + ro, dy + ro, kept + row * kept_stride, dx + ro, w, f);
      }
    } else {
      for (int64_t row = 0; row < S; ++row) {
        const int64_t ro = o + row * W;
        DxRow<kSilu>(x + ro, dy + ro, kept + row * kept_stride, dx + ro, w, P, 0, c1v, c2v);
      }
    }
  }
}

// One row of the row-at-a-time backward, as scalars (vectors of it in a struct would be
// copied through memory at every row): its statistics (m = b′ when folded, see RowNorm),
// after pass 1 its coefficients c1 = centre·g1/W and c2 = g2/W, and with SiLU the
// buffer where its du waits between the passes.
struct GradRow {
  int64_t offset = 0;  // of the row's first value
  float m = 0, mlo = 0, r = 0, c1 = 0, c2 = 0;
  bool fold = true;
  float* du = nullptr;
  RowNorm norm() const {
    const DF d;
    return {hn::Set(d, m), hn::Set(d, mlo), hn::Set(d, r), fold};
  }
};

// Pass 1 on the vector of columns [c, c + w) of a row at xr, gr: g1 += k·du, g2 += k·du·x̂,
// du kept (SiLU), and when wanted col_du += du, col_dux += du·x̂.
template <bool kSilu, bool kFold, bool kFull, class T>
HWY_INLINE void RowGradPass1(const T* xr, const T* gr, const RowNorm& n, VF& g1, VF& g2, float* du_keep,
                             const float* kv, const float* qv, int64_t c, int64_t w, float* col_du,
                             float* col_dux) {
  const VF k = LoadCols<kFull>(kv + c, w);
  const VF q = kSilu ? LoadCols<kFull>(qv + c, w) : hn::Zero(DF());
  const VF xh = NormalizedRow<kFold>(LoadCols<kFull>(xr + c, w), n);
  const VF du = GradIn(LoadCols<kFull>(gr + c, w), xh, k, q, kSilu);  // 0 past w
  if constexpr (kSilu) StoreCols<kFull>(du, du_keep + c, w);
  const VF kdu = hn::Mul(k, du);
  g1 = hn::Add(g1, kdu);
  g2 = hn::MulAdd(kdu, xh, g2);
  if (col_du) {
    StoreCols<kFull>(hn::Add(LoadCols<kFull>(col_du + c, w), du), col_du + c, w);
    StoreCols<kFull>(hn::MulAdd(du, xh, LoadCols<kFull>(col_dux + c, w)), col_dux + c, w);
  }
}

// Pass 2 on the vector of columns [c, c + w) of a row: dx = r·(k·du − c1 − x̂·c2).
template <bool kSilu, bool kFold, bool kFull, class T>
HWY_INLINE VF RowGradPass2(const T* xr, const T* gr, const RowNorm& n, VF c1, VF c2, const float* du_kept,
                           const float* kv, int64_t c, int64_t w) {
  const VF xh = NormalizedRow<kFold>(LoadCols<kFull>(xr + c, w), n);
  const VF du = kSilu ? LoadCols<kFull>(du_kept + c, w) : LoadCols<kFull>(gr + c, w);
  const VF kdu = hn::Mul(LoadCols<kFull>(kv + c, w), du);
  return hn::Mul(n.r, hn::NegMulAdd(xh, c2, hn::Sub(kdu, c1)));
}

// R consecutive rows [row0, row0 + R) of a RowStatsGrad: pass 1 reduces each row's
// g1 = Σk·du, g2 = Σk·du·x̂ and adds the R rows' du, du·x̂ to the column sums (one load
// and store of col_du/col_dux per R rows); pass 2 writes dx. With SiLU, du is kept in
// du_buf (R rows) for pass 2; without, du = dy is reloaded. kFold: every row is
// foldable, x̂ = x·r + b′ with b′ = −(m + m_lo)·r (as the forward's apply folds it).
template <int R, bool kSilu, bool kFold, class T>
HWY_INLINE void RowStatsBackwardRows(const T* x, const T* dy, T* dx, const RowStatsGrad& G, int64_t row0,
                                     const float* kv, const float* qv, float* du_buf, float* col_du,
                                     float* col_dux) {
  const DF d;
  const int64_t W = G.width;
  RowNorm n[R];  // m holds b′ when folded
  VF g1[R], g2[R];
  for (int i = 0; i < R; ++i) {
    const int64_t row = row0 + i;
    n[i] = {hn::Set(d, kFold ? folded_shift(G.m[row], G.mlo[row], G.r[row], 0.0f) : G.m[row]),
            hn::Set(d, G.mlo[row]), hn::Set(d, G.r[row]), kFold};
    g1[i] = hn::Zero(d);
    g2[i] = hn::Zero(d);
  }
  const bool cols = col_du != nullptr;
  ForColumnVectors(0, W, [&](int64_t c, int64_t w, auto full) HWY_ATTR __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    const VF k = LoadCols<kFull>(kv + c, w);
    const VF q = kSilu ? LoadCols<kFull>(qv + c, w) : hn::Zero(d);
    VF cs1, cs2;  // the R rows' du and du·x̂, started by the first row (no adds to 0)
    for (int i = 0; i < R; ++i) {
      const int64_t o = (row0 + i) * W + c;
      const VF xh = NormalizedRow<kFold>(LoadCols<kFull>(x + o, w), n[i]);
      const VF du = GradIn(LoadCols<kFull>(dy + o, w), xh, k, q, kSilu);  // 0 past w
      if constexpr (kSilu) StoreCols<kFull>(du, du_buf + i * W + c, w);
      const VF kdu = hn::Mul(k, du);
      g1[i] = hn::Add(g1[i], kdu);
      g2[i] = hn::MulAdd(kdu, xh, g2[i]);
      cs1 = i == 0 ? du : hn::Add(cs1, du);
      cs2 = i == 0 ? hn::Mul(du, xh) : hn::MulAdd(du, xh, cs2);
    }
    if (cols) {
      StoreCols<kFull>(hn::Add(LoadCols<kFull>(col_du + c, w), cs1), col_du + c, w);
      StoreCols<kFull>(hn::Add(LoadCols<kFull>(col_dux + c, w), cs2), col_dux + c, w);
    }
  });
  const float inv_w = 1.0f / float(W);
  VF c1[R], c2[R];
  for (int i = 0; i < R; ++i) {
    c1[i] = G.center ? hn::Set(d, float(SumLanes(g1[i])) * inv_w) : hn::Zero(d);
    c2[i] = hn::Set(d, float(SumLanes(g2[i])) * inv_w);
  }
  for (int i = 0; i < R; ++i) {
    const int64_t o = (row0 + i) * W;
    StoreColumnVectors(dx + o, W, [&](int64_t c, int64_t w, auto full) HWY_ATTR __attribute__((always_inline)) {
      return RowGradPass2<kSilu, kFold, decltype(full)::value>(x + o, dy + o, n[i], c1[i], c2[i], du_buf + i * W, kv, c, w);
    });
  }
}

// The work items of a RowStatsGrad (chunk_rows rows of one block) in parallel: rows(r0,
// r1, kv, qv, du_buf, col_du, col_dux) gets the item's rows, its block's k and q, du_rows
// rows of du scratch and, when column sums are wanted, the zeroed col_du, col_dux that are
// written out per item after it (to out_du, out_dux).
template <class F>
void ForRowGradItems(const RowStatsGrad& G, float* out_du, float* out_dux, float* scratch, int du_rows, F rows) {
  const int64_t W = G.width;
  const int64_t cpb = G.chunks_per_block();
  const int64_t blocks = G.rows / G.rows_per_block;
#pragma omp parallel for schedule(static)
  for (int64_t item = 0; item < blocks * cpb; ++item) {
    const int64_t b = item / cpb, j = item % cpb;
    const int64_t r0 = b * G.rows_per_block + j * G.chunk_rows;
    const int64_t r1 = std::min(b * G.rows_per_block + G.rows_per_block, r0 + G.chunk_rows);
    float* du_buf = scratch + int64_t(omp_get_thread_num()) * (du_rows + 2) * W;
    float* col_du = out_du ? du_buf + du_rows * W : nullptr;
    float* col_dux = out_du ? col_du + W : nullptr;
    if (out_du) std::fill(col_du, col_du + 2 * W, 0.0f);
    rows(r0, r1, G.k + b * G.vec_stride, G.q + b * G.vec_stride, du_buf, col_du, col_dux);
    if (out_du) {
      std::copy(col_du, col_du + W, out_du + item * W);
      std::copy(col_dux, col_dux + W, out_dux + item * W);
    }
  }
}

// Work items of kRows rows per pass (RowStatsBackwardRows).
template <int kRows, bool kSilu, class T>
void RowStatsBackwardItems(const T* x, const T* dy, T* dx, const RowStatsGrad& G, float* out_du, float* out_dux,
                           float* scratch) {
  // Rows whose statistics are all foldable go through the folded x̂.
  const auto all_foldable = [&](int64_t row, int n) {
    for (int i = 0; i < n; ++i)
      if (!foldable(G.m[row + i], G.r[row + i], G.eps)) return false;
    return true;
  };
  ForRowGradItems(G, out_du, out_dux, scratch, kRows,
                  [&](int64_t r0, int64_t r1, const float* kv, const float* qv, float* du_buf, float* col_du,
                      float* col_dux) HWY_ATTR {
                    int64_t row = r0;
                    for (; row + kRows <= r1; row += kRows) {
                      if (all_foldable(row, kRows))
                        RowStatsBackwardRows<kRows, kSilu, true>(x, dy, dx, G, row, kv, qv, du_buf, col_du, col_dux);
                      else
                        RowStatsBackwardRows<kRows, kSilu, false>(x, dy, dx, G, row, kv, qv, du_buf, col_du, col_dux);
                    }
                    for (; row < r1; ++row) {
                      if (all_foldable(row, 1))
                        RowStatsBackwardRows<1, kSilu, true>(x, dy, dx, G, row, kv, qv, du_buf, col_du, col_dux);
                      else
                        RowStatsBackwardRows<1, kSilu, false>(x, dy, dx, G, row, kv, qv, du_buf, col_du, col_dux);
                    }
                  });
}

// One walk over the columns: pass 2 of row `done` (its sums complete) and pass 1 of row
// `next` (its c1, c2 set at the end), either null. Both in one loop when both rows fold
// (the usual case). Pass 1 sums the even and the odd vectors of a pair apart (g1, g2 and
// h1, h2): with one chain of FMAs (4 cycles each) a bare loop of the two passes took 11 %
// more cycles.
template <bool kSilu, class T>
HWY_INLINE void RowGradWalk(const T* x, const T* dy, T* dx, int64_t W, bool center, const GradRow* done,
                            GradRow* next, const float* kv, const float* qv, float* col_du, float* col_dux) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  const RowNorm nd = done ? done->norm() : RowNorm{};
  const VF c1 = hn::Set(d, done ? done->c1 : 0.0f), c2 = hn::Set(d, done ? done->c2 : 0.0f);
  const RowNorm nn = next ? next->norm() : RowNorm{};
  VF g1 = hn::Zero(d), g2 = hn::Zero(d), h1 = hn::Zero(d), h2 = hn::Zero(d);
  const T *xd = done ? x + done->offset : x, *gd = done ? dy + done->offset : dy;
  const T *xn = next ? x + next->offset : x, *gn = next ? dy + next->offset : dy;
  T* out = done ? dx + done->offset : dx;
  float* keep = next ? next->du : nullptr;
  const float* kept = done ? done->du : nullptr;
  const auto pass1 = [&](auto fold) HWY_ATTR {
    constexpr bool kFold = decltype(fold)::value;
    ForColumnPairs(
        W,
        [&](int64_t c) HWY_ATTR __attribute__((always_inline)) {
          RowGradPass1<kSilu, kFold, true>(xn, gn, nn, g1, g2, keep, kv, qv, c, N, col_du, col_dux);
          RowGradPass1<kSilu, kFold, true>(xn, gn, nn, h1, h2, keep, kv, qv, c + N, N, col_du, col_dux);
        },
        [&](int64_t c, int64_t w, auto full) HWY_ATTR __attribute__((always_inline)) {
          RowGradPass1<kSilu, kFold, decltype(full)::value>(xn, gn, nn, g1, g2, keep, kv, qv, c, w, col_du, col_dux);
        });
  };
  const auto pass2 = [&](auto fold) HWY_ATTR {
    StoreColumnVectors(out, W, [&](int64_t c, int64_t w, auto full) HWY_ATTR __attribute__((always_inline)) {
      return RowGradPass2<kSilu, decltype(fold)::value, decltype(full)::value>(xd, gd, nd, c1, c2, kept, kv, c, w);
    });
  };
  if (done && next && done->fold && next->fold) {
    ForColumnPairs(
        W,
        [&](int64_t c) HWY_ATTR __attribute__((always_inline)) {
          RowGradPass1<kSilu, true, true>(xn, gn, nn, g1, g2, keep, kv, qv, c, N, col_du, col_dux);
          RowGradPass1<kSilu, true, true>(xn, gn, nn, h1, h2, keep, kv, qv, c + N, N, col_du, col_dux);
          const VF v0 = RowGradPass2<kSilu, true, true>(xd, gd, nd, c1, c2, kept, kv, c, N);
          const VF v1 = RowGradPass2<kSilu, true, true>(xd, gd, nd, c1, c2, kept, kv, c + N, N);
          StoreF32x2(d, v0, v1, out + c);
        },
        [&](int64_t c, int64_t w, auto full) HWY_ATTR __attribute__((always_inline)) {
          constexpr bool kFull = decltype(full)::value;
          RowGradPass1<kSilu, true, kFull>(xn, gn, nn, g1, g2, keep, kv, qv, c, w, col_du, col_dux);
          StoreCols<kFull>(RowGradPass2<kSilu, true, kFull>(xd, gd, nd, c1, c2, kept, kv, c, w), out + c, w);
        });
  } else {
    if (done) done->fold ? pass2(std::true_type{}) : pass2(std::false_type{});
    if (next) next->fold ? pass1(std::true_type{}) : pass1(std::false_type{});
  }
  if (next) {
    const float inv_w = 1.0f / float(W);
    next->c1 = center ? float(SumLanes(hn::Add(g1, h1))) * inv_w : 0.0f;
    next->c2 = float(SumLanes(hn::Add(g2, h2))) * inv_w;
  }
}

// 16-bit rows of ≤ 1024 values, one at a time in row order, with pass 1 of row i + 1 in
// the same loop as pass 2 of row i: pass 2 of row i waits for the reduction of its sums
// (a chain of FMAs, then the lanes in double), and pass 1 of the next row fills that
// wait. Work items and column sums as RowStatsBackwardItems. Against one row per pass
// (session 14, Zen 5, one process, the two interleaved): LayerNorm bf16 2×4096×320
// 0.336–0.360 → 0.308–0.323 ms in cache, 0.416–0.456 → 0.389–0.434 from DRAM; 2×1024×640
// 0.138–0.164 → 0.122–0.146 in cache; fp16 alike; PixelNorm NHWC bf16 from DRAM 1.52 →
// 1.40. fp32 rows lost 1–9 % in cache (L3 bandwidth bounds them, not the wait) and stay
// one row per pass.
template <bool kSilu, class T>
void RowStatsBackwardPiped(const T* x, const T* dy, T* dx, const RowStatsGrad& G, float* out_du, float* out_dux,
                           float* scratch) {
  const int64_t W = G.width;
  ForRowGradItems(G, out_du, out_dux, scratch, 2,  // two rows' du (SiLU)
                  [&](int64_t r0, int64_t r1, const float* kv, const float* qv, float* du_rows, float* col_du,
                      float* col_dux) HWY_ATTR {
                    GradRow rows[2];
                    for (int64_t row = r0; row <= r1; ++row) {
                      const GradRow* done = row > r0 ? &rows[(row - 1) & 1] : nullptr;
                      GradRow* next = nullptr;
                      if (row < r1) {
                        next = &rows[row & 1];
                        next->offset = row * W;
                        next->fold = foldable(G.m[row], G.r[row], G.eps);
                        next->m = next->fold ? folded_shift(G.m[row], G.mlo[row], G.r[row], 0.0f) : G.m[row];
                        next->mlo = G.mlo[row];
                        next->r = G.r[row];
                        next->du = du_rows + (row & 1) * W;
                      }
                      RowGradWalk<kSilu>(x, dy, dx, W, G.center, done, next, kv, qv, col_du, col_dux);
                    }
                  });
}

// Four rows per pass load and store the column sums once per four rows, but walk four
// rows' x and dy side by side. Rows of ≤ 1024 values go one at a time, x and dy then two
// contiguous streams across rows, and the column sums (8 KiB) stay in L1. From DRAM that
// wins: LayerNorm 2×4096×320 fp32 0.79–1.06 → 0.56–0.67 ms (session 9), bf16 0.81–0.92 →
// 0.47–0.56 and 2×1024×640 bf16 0.41–0.47 → 0.25–0.28 (session 13, Zen 4; session 14, Zen
// 5: 0.687 → 0.505 and 0.276 → 0.199). In cache fp32 gains too (0.18–0.22 → 0.15–0.18);
// bf16 is even on Zen 4 and loses 3–10 % on Zen 5 (0.327 → 0.362), about what the
// pipelined walk of 16-bit rows (RowStatsBackwardPiped) gains back. A backward's
// operands were mostly saved long before: DRAM is its usual case. RMSNorm's 4096-wide rows
// keep 4: their column sums (32 KiB) leave L1, and one at a time was 1.2–1.3× slower.
template <bool kSilu, class T>
void RowStatsBackwardT(const T* x, const T* dy, T* dx, const RowStatsGrad& G, float* out_du, float* out_dux,
                       float* scratch) {
  if constexpr (sizeof(T) == 2) {
    if (G.width <= 1024) return RowStatsBackwardPiped<kSilu>(x, dy, dx, G, out_du, out_dux, scratch);
  }
  if (G.width <= 1024) return RowStatsBackwardItems<1, kSilu>(x, dy, dx, G, out_du, out_dux, scratch);
  RowStatsBackwardItems<4, kSilu>(x, dy, dx, G, out_du, out_dux, scratch);
}

// Channels-first Position backward (LayerNorm over C of NCHW, PixelNorm, RMS): the
// statistics are per position, vectors along s; channels are rows of S. R channel rows
// are handled per pass over the positions, so that the per-position sums g1, g2 are read
// and written once per R rows (in channel order, as one row at a time would add them).
struct ColGradRows {
  const float *m, *mlo, *r;  // the block's per-position statistics
  const float *k, *q;        // the block's per-channel affine
};

// Pass 1 over positions [s0, s1) of channel rows [c, c + R) of the block at xb, dyb:
// g1 += Σ k·du, g2 += Σ k·du·x̂ (g indexed from s0); sums[2i], sums[2i + 1] = Σdu, Σdu·x̂ of
// row c + i.
template <int R, bool kSilu, bool kCenter, class T>
HWY_INLINE void ColGradSumsRows(const T* xb, const T* dyb, int64_t S, const ColGradRows& P, int64_t c, int64_t s0,
                                int64_t s1, float* g1, float* g2, double* sums) {
  const DF d;
  VF k[R], q[R], a1[R], a2[R];
  for (int i = 0; i < R; ++i) {
    k[i] = hn::Set(d, P.k[c + i]);
    q[i] = kSilu ? hn::Set(d, P.q[c + i]) : hn::Zero(d);
    a1[i] = a2[i] = hn::Zero(d);
  }
  ForColumnVectors(s0, s1, [&](int64_t s, int64_t w, auto full) HWY_ATTR __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    const VF r = LoadCols<kFull>(P.r + s, w);
    const VF m = kCenter ? LoadCols<kFull>(P.m + s, w) : hn::Zero(d);
    const VF mlo = kCenter ? LoadCols<kFull>(P.mlo + s, w) : hn::Zero(d);
    VF t1 = LoadCols<kFull>(g1 + s - s0, w), t2 = LoadCols<kFull>(g2 + s - s0, w);
    for (int i = 0; i < R; ++i) {
      const int64_t o = (c + i) * S + s;
      const VF v = LoadCols<kFull>(xb + o, w);
      const VF xh = kCenter ? Normalized(v, m, mlo, r) : hn::Mul(v, r);
      const VF du = GradIn(LoadCols<kFull>(dyb + o, w), xh, k[i], q[i], kSilu);  // 0 past w
      const VF kdu = hn::Mul(k[i], du);
      t1 = hn::Add(t1, kdu);
      t2 = hn::MulAdd(kdu, xh, t2);
      a1[i] = hn::Add(a1[i], du);
      a2[i] = hn::MulAdd(du, xh, a2[i]);
    }
    StoreCols<kFull>(t1, g1 + s - s0, w);
    StoreCols<kFull>(t2, g2 + s - s0, w);
  });
  for (int i = 0; i < R; ++i) {
    sums[2 * i] = SumLanes(a1[i]);
    sums[2 * i + 1] = SumLanes(a2[i]);
  }
}

// Pass 2: dx = r·(k·du − center·g1/C − x̂·g2/C) over positions [s0, s1) of rows [c, c + R).
template <int R, bool kSilu, bool kCenter, class T>
HWY_INLINE void ColGradDxRows(const T* xb, const T* dyb, T* dxb, int64_t S, const ColGradRows& P, int64_t c,
                              int64_t s0, int64_t s1, const float* g1, const float* g2, float inv_c) {
  const DF d;
  ForColumnVectors(s0, s1, [&](int64_t s, int64_t w, auto full) HWY_ATTR __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    const VF r = LoadCols<kFull>(P.r + s, w);
    const VF m = kCenter ? LoadCols<kFull>(P.m + s, w) : hn::Zero(d);
    const VF mlo = kCenter ? LoadCols<kFull>(P.mlo + s, w) : hn::Zero(d);
    const VF c1 = kCenter ? hn::Mul(LoadCols<kFull>(g1 + s - s0, w), hn::Set(d, inv_c)) : hn::Zero(d);
    const VF c2 = hn::Mul(LoadCols<kFull>(g2 + s - s0, w), hn::Set(d, inv_c));
    for (int i = 0; i < R; ++i) {
      const int64_t o = (c + i) * S + s;
      const VF v = LoadCols<kFull>(xb + o, w);
      const VF xh = kCenter ? Normalized(v, m, mlo, r) : hn::Mul(v, r);
      const VF k = hn::Set(d, P.k[c + i]);
      const VF du = GradIn(LoadCols<kFull>(dyb + o, w), xh, k, kSilu ? hn::Set(d, P.q[c + i]) : hn::Zero(d), kSilu);
      StoreCols<kFull>(hn::Mul(r, hn::NegMulAdd(xh, c2, hn::Sub(hn::Mul(k, du), c1))), dxb + o, w);
    }
  });
}

template <bool kSilu, bool kCenter, class T>
void ColStatsBackwardT(const T* x, const T* dy, T* dx, const ColStatsGrad& G, double* row_du, double* row_dux,
                       float* scratch, Arena& arena) {
  constexpr int kRows = 4;
  const int64_t C = G.rows, S = G.width;
  const int64_t chunks = (S + kColChunk - 1) / kColChunk;
  const bool want_rows = row_du != nullptr;
  double* part = want_rows ? arena.allocate_array<double>(size_t(2 * G.blocks * chunks * C)) : nullptr;
  const float inv_c = 1.0f / float(C);
#pragma omp parallel for schedule(static)
  for (int64_t item = 0; item < G.blocks * chunks; ++item) {
    const int64_t b = item / chunks, j = item % chunks;
    const int64_t s0 = j * kColChunk, s1 = std::min(S, s0 + kColChunk);
    float* g1 = scratch + int64_t(omp_get_thread_num()) * 2 * kColChunk;
    float* g2 = g1 + kColChunk;
    std::fill(g1, g1 + 2 * kColChunk, 0.0f);
    const ColGradRows P{G.m + b * S, G.mlo + b * S, G.r + b * S, G.k + b * G.k_stride, G.q + b * G.k_stride};
    const T* xb = x + b * C * S;
    const T* dyb = dy + b * C * S;
    HWY_ALIGN double sums[2 * kRows];
    double* out = want_rows ? part + 2 * item * C : nullptr;  // Σdu, Σdu·x̂ per channel
    int64_t c = 0;
    for (; c + kRows <= C; c += kRows) {
      ColGradSumsRows<kRows, kSilu, kCenter>(xb, dyb, S, P, c, s0, s1, g1, g2, sums);
      if (out) std::copy(sums, sums + 2 * kRows, out + 2 * c);
    }
    for (; c < C; ++c) {
      ColGradSumsRows<1, kSilu, kCenter>(xb, dyb, S, P, c, s0, s1, g1, g2, sums);
      if (out) std::copy(sums, sums + 2, out + 2 * c);
    }
    for (c = 0; c + kRows <= C; c += kRows)
      ColGradDxRows<kRows, kSilu, kCenter>(xb, dyb, dx + b * C * S, S, P, c, s0, s1, g1, g2, inv_c);
    for (; c < C; ++c) ColGradDxRows<1, kSilu, kCenter>(xb, dyb, dx + b * C * S, S, P, c, s0, s1, g1, g2, inv_c);
  }
  if (want_rows) {
    for (int64_t b = 0; b < G.blocks; ++b)
      for (int64_t c = 0; c < C; ++c) {
        double s1 = 0, s2 = 0;
        for (int64_t j = 0; j < chunks; ++j) {
          s1 += part[2 * ((b * chunks + j) * C + c)];
          s2 += part[2 * ((b * chunks + j) * C + c) + 1];
        }
        row_du[b * C + c] = s1;
        row_dux[b * C + c] = s2;
      }
  }
}

// ---- dtype dispatch ----------------------------------------------------------------------

template <class F>
void ByType(DType t, F&& f) {
  switch (t) {
    case DType::F32: return f(float{});
    case DType::F16: return f(float16{});
    case DType::BF16: return f(bfloat16{});
    default: return;
  }
}

void RunMoments(DType t, const void* x, const RunLayout& L, bool center, Moments* out) {
  ByType(t, [&](auto tag) { RunMomentsTyped<decltype(tag)>(x, L, center, out); });
}
void ColMoments(DType t, const void* x, const ColLayout& L, bool center, Moments* out) {
  ByType(t, [&](auto tag) { ColMomentsTyped<decltype(tag)>(x, L, center, out); });
}
void Apply(DType t, const void* x, void* y, const ApplyLayout& L, int64_t r0, int64_t r1, bool team) {
  ByType(t, [&](auto tag) { ApplyTyped<decltype(tag)>(x, y, L, r0, r1, team); });
}
void FusedForward(DType t, const void* x, void* y, const ApplyLayout& L, const FusedStats& F) {
  ByType(t, [&](auto tag) { FusedForwardTyped<decltype(tag)>(x, y, L, F); });
}
void FusedColForward(DType t, const void* x, void* y, const ApplyLayout& L, const FusedStats& F) {
  ByType(t, [&](auto tag) { FusedColForwardTyped<decltype(tag)>(x, y, L, F); });
}
void ColGroupSums(DType t, const void* x, const ColLayout& L, int64_t groups, int64_t block, bool center, float* shift,
                  double* out, double* scratch) {
  ByType(t, [&](auto tag) {
    using T = decltype(tag);
    if (center) ColGroupSumsT<true>(static_cast<const T*>(x), L, groups, block, shift, out, scratch);
    else ColGroupSumsT<false>(static_cast<const T*>(x), L, groups, block, shift, out, scratch);
  });
}
void RowGradSums(DType t, const void* x, const void* dy, const RowScalars& S, double* a, double* b) {
  ByType(t, [&](auto tag) {
    using T = decltype(tag);
    const auto* xt = static_cast<const T*>(x);
    const auto* gt = static_cast<const T*>(dy);
    if (S.act == Activation::SiLU) RowGradSumsT<true>(xt, gt, S, a, b);
    else RowGradSumsT<false>(xt, gt, S, a, b);
  });
}
void RowGradDx(DType t, const void* x, const void* dy, void* dx, const RowScalars& S, const float* c1,
               const float* c2) {
  ByType(t, [&](auto tag) {
    using T = decltype(tag);
    const auto* xt = static_cast<const T*>(x);
    const auto* gt = static_cast<const T*>(dy);
    if (S.act == Activation::SiLU) RowGradDxT<true>(xt, gt, static_cast<T*>(dx), S, c1, c2);
    else RowGradDxT<false>(xt, gt, static_cast<T*>(dx), S, c1, c2);
  });
}
void FusedRowBackward(DType t, const void* x, const void* dy, void* dx, const RowScalars& S, const FusedGrad& F,
                      double* a, double* b) {
  ByType(t, [&](auto tag) {
    using T = decltype(tag);
    const auto* xt = static_cast<const T*>(x);
    const auto* gt = static_cast<const T*>(dy);
    if (S.act == Activation::SiLU) FusedRowBackwardT<true>(xt, gt, static_cast<T*>(dx), S, F, a, b);
    else FusedRowBackwardT<false>(xt, gt, static_cast<T*>(dx), S, F, a, b);
  });
}
void ColGradSums(DType t, const void* x, const void* dy, const ColVectors& V, double* a, double* b) {
  ByType(t, [&](auto tag) {
    using T = decltype(tag);
    const auto* xt = static_cast<const T*>(x);
    const auto* gt = static_cast<const T*>(dy);
    WithFlags(V.act == Activation::SiLU, V.xh_shift != nullptr, [&](auto silu, auto fold) {
      constexpr bool kSilu = decltype(silu)::value, kFold = decltype(fold)::value;
      if (kSilu && V.du) ColGradSumsT<kSilu, kSilu, kFold>(xt, gt, V, a, b);
      else ColGradSumsT<kSilu, false, kFold>(xt, gt, V, a, b);
    });
  });
}
void ColGradDxFolded(DType t, const void* x, const void* dy, void* dx, const ColLayout& L, const FoldedDx& f) {
  ByType(t, [&](auto tag) {
    using T = decltype(tag);
    const auto* xt = static_cast<const T*>(x);
    const auto* gt = static_cast<const T*>(dy);
    if (f.du) ColGradDxFoldedT<true, true>(xt, gt, static_cast<T*>(dx), L, f);
    else if (f.u_shift) ColGradDxFoldedT<true, false>(xt, gt, static_cast<T*>(dx), L, f);
    else ColGradDxFoldedT<false, false>(xt, gt, static_cast<T*>(dx), L, f);
  });
}
void ColGradDx(DType t, const void* x, const void* dy, void* dx, const ColVectors& V, const float* c1,
               const float* c2) {
  ByType(t, [&](auto tag) {
    using T = decltype(tag);
    const auto* xt = static_cast<const T*>(x);
    const auto* gt = static_cast<const T*>(dy);
    if (V.du && V.act == Activation::SiLU) ColGradDxT<true>(xt, gt, static_cast<T*>(dx), V, c1, c2);
    else ColGradDxT<false>(xt, gt, static_cast<T*>(dx), V, c1, c2);
  });
}
void FusedColGroupBackward(DType t, const void* x, const void* dy, void* dx, const ColVectors& V,
                           const FusedColGrad& F, double* a, double* b) {
  ByType(t, [&](auto tag) {
    using T = decltype(tag);
    const auto* xt = static_cast<const T*>(x);
    const auto* gt = static_cast<const T*>(dy);
    WithFlags(V.act == Activation::SiLU, F.fold, [&](auto silu, auto fold) {
      FusedColGroupBackwardT<decltype(silu)::value, decltype(fold)::value>(xt, gt, static_cast<T*>(dx), V, F, a, b);
    });
  });
}
void RowStatsBackward(DType t, const void* x, const void* dy, void* dx, const RowStatsGrad& G, float* a,
                      float* b, float* scratch) {
  ByType(t, [&](auto tag) {
    using T = decltype(tag);
    const auto* xt = static_cast<const T*>(x);
    const auto* gt = static_cast<const T*>(dy);
    if (G.act == Activation::SiLU) RowStatsBackwardT<true>(xt, gt, static_cast<T*>(dx), G, a, b, scratch);
    else RowStatsBackwardT<false>(xt, gt, static_cast<T*>(dx), G, a, b, scratch);
  });
}
void ColStatsBackward(DType t, const void* x, const void* dy, void* dx, const ColStatsGrad& G, double* a,
                      double* b, float* scratch, Arena* arena) {
  ByType(t, [&](auto tag) {
    using T = decltype(tag);
    WithFlags(G.act == Activation::SiLU, G.center, [&](auto silu, auto center) {
      ColStatsBackwardT<decltype(silu)::value, decltype(center)::value>(
          static_cast<const T*>(x), static_cast<const T*>(dy), static_cast<T*>(dx), G, a, b, scratch, *arena);
    });
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace diffnorm::norm_detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace diffnorm::norm_detail {
HWY_EXPORT(RunMoments);
HWY_EXPORT(ColMoments);
HWY_EXPORT(Apply);
HWY_EXPORT(FusedForward);
HWY_EXPORT(FusedColForward);
HWY_EXPORT(ColGroupSums);
HWY_EXPORT(RowGradSums);
HWY_EXPORT(RowGradDx);
HWY_EXPORT(FusedRowBackward);
HWY_EXPORT(ColGradSums);
HWY_EXPORT(ColGradDx);
HWY_EXPORT(ColGradDxFolded);
HWY_EXPORT(FusedColGroupBackward);
HWY_EXPORT(RowStatsBackward);
HWY_EXPORT(ColStatsBackward);

void run_moments(DType dtype, const void* x, const RunLayout& layout, bool center, Moments* out) {
  HWY_DYNAMIC_DISPATCH(RunMoments)(dtype, x, layout, center, out);
}
void col_moments(DType dtype, const void* x, const ColLayout& layout, bool center, Moments* out) {
  HWY_DYNAMIC_DISPATCH(ColMoments)(dtype, x, layout, center, out);
}
void apply(DType dtype, const void* x, void* y, const ApplyLayout& layout) {
#pragma omp parallel
  HWY_DYNAMIC_DISPATCH(Apply)(dtype, x, y, layout, 0, layout.rows, true);
}
void apply_in_team(DType dtype, const void* x, void* y, const ApplyLayout& layout) {
  HWY_DYNAMIC_DISPATCH(Apply)(dtype, x, y, layout, 0, layout.rows, true);
}
void apply_rows(DType dtype, const void* x, void* y, const ApplyLayout& layout, int64_t row0, int64_t row1) {
  HWY_DYNAMIC_DISPATCH(Apply)(dtype, x, y, layout, row0, row1, false);
}
void fused_forward(DType dtype, const void* x, void* y, const ApplyLayout& layout, const FusedStats& stats) {
  HWY_DYNAMIC_DISPATCH(FusedForward)(dtype, x, y, layout, stats);
}
void fused_col_forward(DType dtype, const void* x, void* y, const ApplyLayout& layout, const FusedStats& stats) {
  HWY_DYNAMIC_DISPATCH(FusedColForward)(dtype, x, y, layout, stats);
}
void col_group_sums(DType dtype, const void* x, const ColLayout& layout, int64_t groups, bool center, float* shift,
                    double* out, double* scratch) {
#pragma omp parallel
  HWY_DYNAMIC_DISPATCH(ColGroupSums)(dtype, x, layout, groups, -1, center, shift, out, scratch);
}
void col_group_sums_in_team(DType dtype, const void* x, const ColLayout& layout, int64_t groups, bool center,
                            float* shift, double* out, double* scratch) {
  HWY_DYNAMIC_DISPATCH(ColGroupSums)(dtype, x, layout, groups, -1, center, shift, out, scratch);
}
void col_group_block_sums(DType dtype, const void* x, const ColLayout& layout, int64_t groups, int64_t block,
                          bool center, float* shift, double* out, double* scratch) {
  HWY_DYNAMIC_DISPATCH(ColGroupSums)(dtype, x, layout, groups, block, center, shift, out, scratch);
}
void row_grad_sums(DType dtype, const void* x, const void* dy, const RowScalars& s, double* sum_du,
                   double* sum_dux) {
  HWY_DYNAMIC_DISPATCH(RowGradSums)(dtype, x, dy, s, sum_du, sum_dux);
}
void row_grad_dx(DType dtype, const void* x, const void* dy, void* dx, const RowScalars& s, const float* c1,
                 const float* c2) {
  HWY_DYNAMIC_DISPATCH(RowGradDx)(dtype, x, dy, dx, s, c1, c2);
}
void fused_row_backward(DType dtype, const void* x, const void* dy, void* dx, const RowScalars& s,
                        const FusedGrad& f, double* sum_du, double* sum_dux) {
  HWY_DYNAMIC_DISPATCH(FusedRowBackward)(dtype, x, dy, dx, s, f, sum_du, sum_dux);
}
void col_grad_sums(DType dtype, const void* x, const void* dy, const ColVectors& v, double* out_du,
                   double* out_dux) {
  HWY_DYNAMIC_DISPATCH(ColGradSums)(dtype, x, dy, v, out_du, out_dux);
}
void col_grad_dx(DType dtype, const void* x, const void* dy, void* dx, const ColVectors& v, const float* c1,
                 const float* c2) {
  HWY_DYNAMIC_DISPATCH(ColGradDx)(dtype, x, dy, dx, v, c1, c2);
}
void col_grad_dx_folded(DType dtype, const void* x, const void* dy, void* dx, const ColLayout& layout,
                        const FoldedDx& f) {
  HWY_DYNAMIC_DISPATCH(ColGradDxFolded)(dtype, x, dy, dx, layout, f);
}
void fused_col_group_backward(DType dtype, const void* x, const void* dy, void* dx, const ColVectors& v,
                              const FusedColGrad& f, double* out_du, double* out_dux) {
  HWY_DYNAMIC_DISPATCH(FusedColGroupBackward)(dtype, x, dy, dx, v, f, out_du, out_dux);
}
void row_stats_backward(DType dtype, const void* x, const void* dy, void* dx, const RowStatsGrad& g,
                        float* out_du, float* out_dux, float* scratch) {
  HWY_DYNAMIC_DISPATCH(RowStatsBackward)(dtype, x, dy, dx, g, out_du, out_dux, scratch);
}
void col_stats_backward(DType dtype, const void* x, const void* dy, void* dx, const ColStatsGrad& g,
                        double* row_du, double* row_dux, float* scratch, Arena& arena) {
  HWY_DYNAMIC_DISPATCH(ColStatsBackward)(dtype, x, dy, dx, g, row_du, row_dux, scratch, &arena);
}
}  // namespace diffnorm::norm_detail
#endif
