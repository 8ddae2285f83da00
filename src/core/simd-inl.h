// Per-target SIMD helpers (Highway): load any float storage type as f32 lanes and store
// f32 lanes back with correct rounding. Include from a file compiled for every target
// (foreach_target.h); the guard below re-includes this file once per target.
//
// Highway 1.0's own f32->bf16 demotion truncates and its f32->f16 fallback (targets
// without F16C) truncates too, so narrowing is written out here: round to nearest even,
// overflow to Inf, NaN kept. On AVX-512 CPUs with AVX512-BF16 the bf16 rounding is one
// vcvtneps2bf16 (Highway 1.0 has no target for it).
#if defined(DIFFNORM_CORE_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DIFFNORM_CORE_SIMD_INL_H_
#undef DIFFNORM_CORE_SIMD_INL_H_
#else
#define DIFFNORM_CORE_SIMD_INL_H_
#endif

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/cpu_features.h"
#include "diffnorm/dtype.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace diffnorm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;

template <class D>
HWY_INLINE hn::Vec<D> LoadF32(D d, const float* p) {
  return hn::LoadU(d, p);
}
template <class D>
HWY_INLINE hn::Vec<D> LoadF32(D d, const bfloat16* p) {
  const hn::Rebind<uint16_t, D> d16;
  const hn::Rebind<uint32_t, D> d32;
  const auto wide = hn::PromoteTo(d32, hn::LoadU(d16, reinterpret_cast<const uint16_t*>(p)));
  return hn::BitCast(d, hn::ShiftLeft<16>(wide));
}
template <class D>
HWY_INLINE hn::Vec<D> LoadF32(D d, const float16* p) {
  const hn::Rebind<hwy::float16_t, D> d16;
  return hn::PromoteTo(d, hn::LoadU(d16, reinterpret_cast<const hwy::float16_t*>(p)));
}

template <class D>
HWY_INLINE void StoreF32(D d, hn::Vec<D> v, float* p) {
  hn::StoreU(v, d, p);
}
template <class D>
HWY_INLINE void StoreF32(D d, hn::Vec<D> v, bfloat16* p) {
#if HWY_TARGET <= HWY_AVX3
  // vcvtneps2bf16 treats denormal inputs as 0, so vectors holding one (vfpclassps
  // category 0x20) take the integer path below.
  if constexpr (hn::MaxLanes(d) == 16) {
    if (HWY_LIKELY(cpu::use_avx512_bf16) && _mm512_fpclass_ps_mask(v.raw, 0x20) == 0) {
      __m256i packed;
      asm("vcvtneps2bf16 %1, %0" : "=v"(packed) : "v"(v.raw));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), packed);
      return;
    }
  }
#endif
  const hn::RebindToUnsigned<D> du;
  const hn::Rebind<uint16_t, D> d16;
  const auto u = hn::BitCast(du, v);
  const auto lsb = hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1u));
  auto r = hn::Add(u, hn::Add(hn::Set(du, 0x7fffu), lsb));
  // NaN test on the bits (Highway's float Ne is an ordered compare: false for NaN).
  const hn::RebindToSigned<D> di;
  const auto is_nan = hn::Gt(hn::BitCast(di, hn::And(u, hn::Set(du, 0x7fffffffu))), hn::Set(di, 0x7f800000));
  r = hn::IfThenElse(hn::RebindMask(du, is_nan), hn::Or(u, hn::Set(du, 0x400000u)), r);
  hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, hn::ShiftRight<16>(r))), d16,
             reinterpret_cast<uint16_t*>(p));
}
template <class D>
HWY_INLINE void StoreF32(D d, hn::Vec<D> v, float16* p) {
#if HWY_TARGET <= HWY_AVX2  // F16C: vcvtps2ph rounds to nearest even
  const hn::Rebind<hwy::float16_t, D> d16;
  hn::StoreU(hn::DemoteTo(d16, v), d16, reinterpret_cast<hwy::float16_t*>(p));
#else
  // Integer rounding (F. Giesen's float_to_half_fast3_rtne), lane-wise.
  const hn::RebindToUnsigned<D> du;
  const hn::RebindToSigned<D> di;
  const hn::Rebind<uint16_t, D> d16;
  const auto bits = hn::BitCast(du, v);
  const auto sign = hn::And(bits, hn::Set(du, 0x80000000u));
  const auto a = hn::Xor(bits, sign);
  const auto too_big = hn::Ge(a, hn::Set(du, 143u << 23));
  const auto is_nan = hn::Gt(a, hn::Set(du, 255u << 23));
  const auto special = hn::IfThenElse(is_nan, hn::Set(du, 0x7e00u), hn::Set(du, 0x7c00u));
  const auto denorm_magic = hn::Set(du, ((127u - 15u) + (23u - 10u) + 1u) << 23);
  const auto sub = hn::Sub(hn::BitCast(du, hn::Add(hn::BitCast(d, a), hn::BitCast(d, denorm_magic))),
                           denorm_magic);
  const auto odd = hn::And(hn::ShiftRight<13>(a), hn::Set(du, 1u));
  const auto norm = hn::ShiftRight<13>(hn::Add(hn::Add(a, hn::Set(du, 0xc8000fffu)), odd));
  auto o = hn::IfThenElse(hn::Lt(a, hn::Set(du, 113u << 23)), sub, norm);
  o = hn::IfThenElse(too_big, special, o);
  o = hn::Or(o, hn::ShiftRight<16>(sign));
  hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, o)), d16, reinterpret_cast<uint16_t*>(p));
#endif
}

// Two vectors to p[0, 2·Lanes(d)). For bf16 on AVX512-BF16 CPUs: one denormal test and
// one vcvtne2ps2bf16 for both. A loop of scale-shift-store ran 1.3× (operands in L3) to
// 1.5× (in L2) faster than with two single stores, each with its own test and branch
// (AMD EPYC of BENCHMARKS.md).
template <class D, class T>
HWY_INLINE void StoreF32x2(D d, hn::Vec<D> v0, hn::Vec<D> v1, T* p) {
#if HWY_TARGET <= HWY_AVX3
  if constexpr (std::is_same_v<T, bfloat16> && hn::MaxLanes(d) == 16) {
    const __mmask16 denormal = _kor_mask16(_mm512_fpclass_ps_mask(v0.raw, 0x20), _mm512_fpclass_ps_mask(v1.raw, 0x20));
    if (HWY_LIKELY(cpu::use_avx512_bf16) && HWY_LIKELY(_kortestz_mask16_u8(denormal, denormal))) {
      __m512i packed;  // bf16 of v0 in the low half, of v1 in the high half
      asm("vcvtne2ps2bf16 %2, %1, %0" : "=v"(packed) : "v"(v1.raw), "v"(v0.raw));
      _mm512_storeu_si512(p, packed);
      return;
    }
  }
#endif
  StoreF32(d, v0, p);
  StoreF32(d, v1, p + hn::Lanes(d));
}

// Tails: n < Lanes(d) elements through a lane-sized stack buffer.
template <class D, class T>
HWY_INLINE hn::Vec<D> LoadF32N(D d, const T* p, size_t n) {
  HWY_ALIGN T buf[hn::MaxLanes(d)] = {};
  std::memcpy(buf, p, std::min(n, hn::MaxLanes(d)) * sizeof(T));  // the bound tells GCC n fits
  return LoadF32(d, buf);
}
template <class D, class T>
HWY_INLINE void StoreF32N(D d, hn::Vec<D> v, T* p, size_t n) {
  HWY_ALIGN T buf[hn::MaxLanes(d)];
  StoreF32(d, v, buf);
  std::memcpy(p, buf, n * sizeof(T));
}

}  // namespace HWY_NAMESPACE
}  // namespace diffnorm
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
