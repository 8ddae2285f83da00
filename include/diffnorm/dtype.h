// Element types of tensors and the 16-bit float formats with their conversions.
//
// Narrowing f32 -> f16/bf16 rounds to nearest, ties to even; values beyond the largest
// finite number become ±Inf; NaN stays NaN (quiet, sign kept). Widening is exact.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace diffnorm {

enum class DType : uint8_t { F32, F16, BF16, I64, I32, U8 };

/// Bytes per element.
std::size_t dtype_size(DType t);
/// The safetensors spelling: "F32", "F16", "BF16", "I64", "I32", "U8".
std::string_view dtype_name(DType t);
/// Accepts the safetensors names and the lower-case CLI names (f32, bf16, fp16, ...).
std::optional<DType> parse_dtype(std::string_view name);

/// IEEE binary16 storage.
struct float16 {
  uint16_t bits;
};
/// bfloat16 storage (the upper half of a binary32).
struct bfloat16 {
  uint16_t bits;
};

inline float bf16_to_f32(bfloat16 h) { return std::bit_cast<float>(uint32_t(h.bits) << 16); }

inline bfloat16 f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {uint16_t((u >> 16) | 0x0040u)};  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even; overflow carries into Inf
  return {uint16_t(u >> 16)};
}

inline float f16_to_f32(float16 h) {
  const uint32_t sign = uint32_t(h.bits & 0x8000u) << 16;
  const uint32_t exp = (h.bits >> 10) & 0x1fu;
  const uint32_t man = h.bits & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (man << 13));  // Inf/NaN
  if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (man << 13));
  // Subnormal or zero: man * 2^-24, exact in f32.
  const float mag = float(man) * 0x1p-24f;
  return sign ? -mag : mag;
}

inline float16 f32_to_f16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return {uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu))};  // NaN
  if (a >= 0x477ff000u) return {uint16_t(sign | 0x7c00u)};  // rounds to >= 65520: Inf
  if (a < 0x38800000u) {
    // Result is subnormal (or zero) in f16: scale so that the f16 ulp 2^-24 lands on the
    // f32 units place of a number in [0.5, 1) * 2^0 ... and let the FPU round (RNE).
    const float mag = std::bit_cast<float>(a);
    const float shifted = mag * 0x1p24f;  // exact: a power-of-two scale of a normal f32
    // nearbyint in the default rounding mode (to nearest even), done with the 2^23 trick.
    const float rounded = (shifted + 0x1p23f) - 0x1p23f;
    return {uint16_t(sign | uint16_t(rounded))};
  }
  // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even.
  uint32_t r = a - 0x38000000u;  // exponent bias 127 -> 15
  r += 0xfffu + ((r >> 13) & 1u);
  return {uint16_t(sign | uint16_t(r >> 13))};
}

template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<float16>() { return DType::F16; }
template <> constexpr DType dtype_of<bfloat16>() { return DType::BF16; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }

/// Bulk conversion between any two of f32, f16, bf16 (SIMD, rounding as above).
void convert(const void* src, DType src_type, void* dst, DType dst_type, std::size_t count);

}  // namespace diffnorm
