#include "pipeline/torch_rng.h"

#include <bit>
#include <cfloat>
#include <cmath>
#include <numbers>

namespace diffnorm {

namespace {

// float32 Cephes log of avx_mathfun.h's log256_ps as torch's AVX2 build compiles it (FMA
// contracted). x in (0, 1] here.
float cephes_logf(float x) {
  x = std::max(x, FLT_MIN);
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  float e = float(int32_t(bits >> 23) - 127) + 1.0f;
  // Mantissa in [0.5, 1).
  float m = std::bit_cast<float>((bits & ~0x7f800000u) | std::bit_cast<uint32_t>(0.5f));
  if (m < 0.707106781186547524f) {
    e -= 1.0f;
    m = (m - 1.0f) + m;
  } else {
    m = m - 1.0f;
  }
  const float z = m * m;
  float y = 7.0376836292e-2f;
  for (float p : {-1.1514610310e-1f, 1.1676998740e-1f, -1.2420140846e-1f, 1.4249322787e-1f,
                  -1.6668057665e-1f, 2.0000714765e-1f, -2.4999993993e-1f, 3.3333331174e-1f})
    y = std::fma(y, m, p);
  y = y * m;
  y = std::fma(y, z, e * -2.12194440e-4f);
  y = std::fma(-z, 0.5f, y);
  return std::fma(e, 0.693359375f, m + y);
}

// float32 Cephes sincos of avx_mathfun.h's sincos256_ps (FMA contracted), for x >= 0.
void cephes_sincosf(float x, float& sin_out, float& cos_out) {
  const int32_t j = (int32_t(x * 1.27323954473516f) + 1) & ~1;  // octant, rounded up to even
  const float y = float(j);
  // Extended-precision reduction x - j * pi/4.
  x = std::fma(y, -0.78515625f, x);
  x = std::fma(y, -2.4187564849853515625e-4f, x);
  x = std::fma(y, -3.77489497744594108e-8f, x);
  const float z = x * x;
  float c = std::fma(std::fma(2.443315711809948e-5f, z, -1.388731625493765e-3f), z, 4.166664568298827e-2f);
  c = std::fma(c * z, z, -(z * 0.5f)) + 1.0f;
  float s = std::fma(std::fma(-1.9515295891e-4f, z, 8.3321608736e-3f), z, -1.6666654611e-1f);
  s = std::fma(s * z, x, x);
  // The SIMD blend adds +0 to the selected polynomial (turns -0 into +0).
  const bool swap = (j & 2) != 0;
  float sin_v = (swap ? c : s) + 0.0f;
  float cos_v = (swap ? s : c) + 0.0f;
  if (j & 4) sin_v = -sin_v;
  if (((j - 2) & 4) == 0) cos_v = -cos_v;
  sin_out = sin_v;
  cos_out = cos_v;
}

// torch's normal_fill_16: 8 Box-Muller pairs from u[0..8) (radius) and u[8..16) (angle).
void box_muller_16(float* data) {
  for (int j = 0; j < 8; ++j) {
    const float u1 = 1.0f - data[j];
    const float u2 = data[j + 8];
    const float radius = std::sqrt(-2.0f * cephes_logf(u1));
    const float theta = float(2.0 * std::numbers::pi) * u2;
    float s, c;
    cephes_sincosf(theta, s, c);
    data[j] = radius * c;
    data[j + 8] = radius * s;
  }
}

}  // namespace

void TorchGenerator::manual_seed(uint64_t seed) {
  engine_.seed(uint32_t(seed & 0xffffffffu));
  cached_normal_.reset();
}

uint64_t TorchGenerator::random64() {
  const uint64_t hi = random();
  const uint64_t lo = random();
  return (hi << 32) | lo;
}

float TorchGenerator::uniform_float() { return float(random() & 0xffffffu) * 0x1p-24f; }

double TorchGenerator::uniform_double() {
  return double(random64() & ((uint64_t(1) << 53) - 1)) * 0x1p-53;
}

double TorchGenerator::normal_double() {
  if (cached_normal_) {
    const double v = *cached_normal_;
    cached_normal_.reset();
    return v;
  }
  const double u1 = uniform_double();
  const double u2 = uniform_double();
  const double r = std::sqrt(-2.0 * std::log(1.0 - u2));
  const double theta = 2.0 * std::numbers::pi * u1;
  cached_normal_ = r * std::sin(theta);
  return r * std::cos(theta);
}

void TorchGenerator::fill_normal_vectorised(float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = uniform_float();
  for (int64_t i = 0; i + 16 <= n; i += 16) box_muller_16(out + i);
  if (n % 16 != 0) {
    // torch recomputes the last 16 outputs (overlapping the last full block) from new uniforms.
    float* tail = out + n - 16;
    for (int i = 0; i < 16; ++i) tail[i] = uniform_float();
    box_muller_16(tail);
  }
}

Tensor TorchGenerator::randn(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  float* out = t.data<float>();
  const int64_t n = t.numel();
  if (n >= 16) {
    fill_normal_vectorised(out, n);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = float(normal_double());
  }
  return t;
}

Tensor TorchGenerator::rand(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  float* out = t.data<float>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) out[i] = uniform_float();
  return t;
}

}  // namespace diffnorm
