// f32 <-> f16 / bf16 conversions, exhaustively over every 16-bit pattern and on the
// rounding boundaries, for the scalar functions and the SIMD bulk path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "diffnorm/dtype.h"
#include "hwy/targets.h"
#include "scoped_setting.h"

using namespace diffnorm;

namespace {

// Reference narrowing by exhaustive nearest search in double: the representable value
// nearest to x, ties to the even bit pattern; beyond max + half an ulp -> Inf.
template <class ToF32>
uint16_t nearest(double x, ToF32 widen, bool is_bf16) {
  if (std::isnan(x)) return 0xffff;  // only "is NaN" is compared
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(x);
  // Binary search over the monotone positive finite patterns.
  const uint16_t max_finite = is_bf16 ? 0x7f7f : 0x7bff;
  uint16_t lo = 0, hi = max_finite;
  while (lo < hi) {
    const uint16_t mid = uint16_t((lo + hi + 1) / 2);
    if (double(widen(mid)) <= a) lo = mid; else hi = uint16_t(mid - 1);
  }
  // lo = largest pattern with value <= a
  if (lo == max_finite) {
    const double maxv = widen(max_finite);
    const double ulp = maxv - double(widen(uint16_t(max_finite - 1)));
    if (a >= maxv + ulp / 2) return uint16_t(sign | (is_bf16 ? 0x7f80 : 0x7c00));
    return uint16_t(sign | max_finite);
  }
  const double below = widen(lo), above = widen(uint16_t(lo + 1));
  uint16_t r;
  if (a - below < above - a) r = lo;
  else if (a - below > above - a) r = uint16_t(lo + 1);
  else r = (lo & 1) ? uint16_t(lo + 1) : lo;
  return uint16_t(sign | r);
}

float bits_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

std::vector<float> probe_values() {
  std::vector<float> v;
  // Every f16/bf16 value, the midpoints between neighbours and one f32 ulp either side.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float bf = bf16_to_f32({uint16_t(h)});
    const float hf = f16_to_f32({uint16_t(h)});
    for (float base : {bf, hf}) {
      v.push_back(base);
      v.push_back(std::nextafter(base, INFINITY));
      v.push_back(std::nextafter(base, -INFINITY));
    }
    if ((h & 0x7fff) < 0x7f80) {  // bf16 midpoints
      const uint32_t u = uint32_t(h) << 16 | 0x8000u;
      v.push_back(bits_f32(u));
    }
  }
  for (uint32_t h = 0; h < 0x7c00; ++h) {  // f16 midpoints (positive and negative)
    const double mid = (double(f16_to_f32({uint16_t(h)})) + double(f16_to_f32({uint16_t(h + 1)}))) / 2;
    v.push_back(float(mid));
    v.push_back(-float(mid));
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) v.push_back(bits_f32(rng()));
  return v;
}

}  // namespace

TEST(DType, WideningIsExactForEveryPattern) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float b = bf16_to_f32({uint16_t(h)});
    uint32_t u;
    std::memcpy(&u, &b, 4);
    ASSERT_EQ(u, h << 16);
    const float f = f16_to_f32({uint16_t(h)});
    const int e = (h >> 10) & 31, m = h & 1023;
    const double s = (h & 0x8000) ? -1 : 1;
    if (e == 31) {
      if (m) ASSERT_TRUE(std::isnan(f)) << h; else ASSERT_EQ(f, s * INFINITY) << h;
    } else {
      const double expect = e ? s * std::ldexp(1024 + m, e - 25) : s * std::ldexp(m, -24);
      ASSERT_EQ(double(f), expect) << h;
      ASSERT_EQ(std::signbit(f), bool(h & 0x8000)) << h;
    }
  }
}

// The bulk path on every compiled SIMD target, and on AVX-512 both with vcvtneps2bf16
// (where the CPU has AVX512-BF16) and with the integer rounding.
TEST(DType, NarrowingRoundsToNearestEvenScalarAndSimd) {
  const test::ScopedTargetMock restore_targets;
  const test::ScopedValue native_bf16(cpu::use_avx512_bf16);
  const std::vector<float> xs = probe_values();
  auto widen16 = [](uint16_t p) { return f16_to_f32({p}); };
  auto widenb = [](uint16_t p) { return bf16_to_f32({p}); };
  std::vector<uint16_t> want_h(xs.size()), want_b(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    want_h[i] = nearest(xs[i], widen16, false);
    want_b[i] = nearest(xs[i], widenb, true);
    if (std::isnan(xs[i])) continue;
    ASSERT_EQ(f32_to_f16(xs[i]).bits, want_h[i]) << "f16 scalar x=" << xs[i];
    ASSERT_EQ(f32_to_bf16(xs[i]).bits, want_b[i]) << "bf16 scalar x=" << xs[i];
  }
  std::vector<float16> h(xs.size());
  std::vector<bfloat16> b(xs.size());
  for (int64_t target : hwy::SupportedAndGeneratedTargets())
    for (bool native : {false, native_bf16.saved()}) {
      SCOPED_TRACE(std::string(hwy::TargetName(target)) + (native ? " vcvtneps2bf16" : ""));
      hwy::SetSupportedTargetsForTest(target);
      cpu::use_avx512_bf16 = native;
      convert(xs.data(), DType::F32, h.data(), DType::F16, xs.size());
      convert(xs.data(), DType::F32, b.data(), DType::BF16, xs.size());
      for (size_t i = 0; i < xs.size(); ++i) {
        if (std::isnan(xs[i])) {
          ASSERT_TRUE(std::isnan(f16_to_f32(h[i])) && std::isnan(bf16_to_f32(b[i])));
          continue;
        }
        ASSERT_EQ(h[i].bits, want_h[i]) << "f16 simd x=" << xs[i];
        ASSERT_EQ(b[i].bits, want_b[i]) << "bf16 simd x=" << xs[i];
      }
    }
}

TEST(DType, RoundTripOfEveryPatternThroughF32) {
  std::vector<uint16_t> pats(0x10000);
  for (uint32_t i = 0; i < 0x10000; ++i) pats[i] = uint16_t(i);
  for (DType t : {DType::F16, DType::BF16}) {
    std::vector<float> wide(pats.size());
    std::vector<uint16_t> back(pats.size());
    convert(pats.data(), t, wide.data(), DType::F32, pats.size());
    convert(wide.data(), DType::F32, back.data(), t, pats.size());
    for (uint32_t i = 0; i < 0x10000; ++i) {
      if (std::isnan(wide[i])) continue;
      ASSERT_EQ(back[i], pats[i]) << dtype_name(t) << " pattern " << i;
    }
  }
}

TEST(DType, ParseAndNames) {
  EXPECT_EQ(parse_dtype("BF16"), DType::BF16);
  EXPECT_EQ(parse_dtype("fp16"), DType::F16);
  EXPECT_EQ(parse_dtype("f32"), DType::F32);
  EXPECT_FALSE(parse_dtype("F8_E4M3").has_value());
  EXPECT_EQ(dtype_name(DType::I64), "I64");
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
}
