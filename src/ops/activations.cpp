#include "ops/activations.h"

#include <algorithm>
#include <cstdint>

#include "core/check.h"
#include "ops/tensor_checks.h"

#ifndef DIFFNORM_OPS_ACTIVATION_KIND_
#define DIFFNORM_OPS_ACTIVATION_KIND_
namespace diffnorm::ops {
enum class ActivationKind : int { kSilu, kGelu, kQuickGelu };
}
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/activations.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "core/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace diffnorm::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using diffnorm::HWY_NAMESPACE::DF;
using diffnorm::HWY_NAMESPACE::LoadF32N;
using diffnorm::HWY_NAMESPACE::StoreF32N;
using V = hn::Vec<DF>;

// x * sigmoid(a*x) with e = exp(-|a x|) (never overflows): sigmoid = 1/(1+e) for
// a x >= 0, e/(1+e) otherwise.
HWY_INLINE V XSigmoid(DF d, V x, float a) {
  const V ax = hn::Mul(x, hn::Set(d, a));
  const V e = hn::Exp(d, hn::Neg(hn::Abs(ax)));
  const V one = hn::Set(d, 1.0f);
  const V numerator = hn::IfThenElse(hn::Lt(ax, hn::Zero(d)), e, one);
  return hn::Mul(x, hn::Div(numerator, hn::Add(one, e)));
}

// gelu(x) = x/2 * erfc(-x/sqrt(2)). erfc(z) for z >= 0 by the Chebyshev fit of Numerical
// Recipes (erfcc, relative error < 1.2e-7 everywhere): t = 1/(1 + z/2),
// erfc(z) = t exp(-z^2 + P(t)); erfc(-z) = 2 - erfc(z). Unlike 1 + erf(x/sqrt 2), this
// keeps full relative accuracy in the far negative tail.
HWY_INLINE V Gelu(DF d, V x) {
  const V a = hn::Mul(x, hn::Set(d, -0.70710678118654752f));
  const V z = hn::Abs(a);
  const V t = hn::Div(hn::Set(d, 1.0f), hn::MulAdd(z, hn::Set(d, 0.5f), hn::Set(d, 1.0f)));
  V p = hn::Set(d, 0.17087277f);
  p = hn::MulAdd(p, t, hn::Set(d, -0.82215223f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.48851587f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.13520398f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.27886807f));
  p = hn::MulAdd(p, t, hn::Set(d, -0.18628806f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.09678418f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.37409196f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.00002368f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.26551223f));
  const V erfc_z = hn::Mul(t, hn::Exp(d, hn::NegMulAdd(z, z, p)));
  const V erfc_a = hn::IfThenElse(hn::Lt(a, hn::Zero(d)), hn::Sub(hn::Set(d, 2.0f), erfc_z), erfc_z);
  return hn::Mul(hn::Mul(x, hn::Set(d, 0.5f)), erfc_a);
}

using Kind = ActivationKind;

template <Kind kind>
HWY_INLINE V Apply(DF d, V x) {
  if constexpr (kind == Kind::kSilu) return XSigmoid(d, x, 1.0f);
  if constexpr (kind == Kind::kQuickGelu) return XSigmoid(d, x, 1.702f);
  if constexpr (kind == Kind::kGelu) return Gelu(d, x);
}

template <Kind kind>
void ApplyRange(const float* x, float* y, size_t n) {
  const DF d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(Apply<kind>(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) StoreF32N(d, Apply<kind>(d, LoadF32N(d, x + i, n - i)), y + i, n - i);
}

void Activation(ActivationKind kind, const float* x, float* y, size_t n) {
  switch (kind) {
    case Kind::kSilu: return ApplyRange<Kind::kSilu>(x, y, n);
    case Kind::kGelu: return ApplyRange<Kind::kGelu>(x, y, n);
    case Kind::kQuickGelu: return ApplyRange<Kind::kQuickGelu>(x, y, n);
  }
}

// rows of x [rows, 2F] -> y [rows, F]: y = h * gelu(g).
void GegluRows(const float* x, float* y, size_t rows, size_t features) {
  const DF d;
  const size_t lanes = hn::Lanes(d);
  for (size_t r = 0; r < rows; ++r) {
    const float* h = x + r * 2 * features;
    const float* g = h + features;
    float* out = y + r * features;
    size_t i = 0;
    for (; i + lanes <= features; i += lanes)
      hn::StoreU(hn::Mul(hn::LoadU(d, h + i), Gelu(d, hn::LoadU(d, g + i))), d, out + i);
    if (i < features) {
      const size_t n = features - i;
      StoreF32N(d, hn::Mul(LoadF32N(d, h + i, n), Gelu(d, LoadF32N(d, g + i, n))), out + i, n);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace diffnorm::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace diffnorm::ops {
HWY_EXPORT(Activation);
HWY_EXPORT(GegluRows);

namespace {

constexpr int64_t kChunk = 1 << 14;  // elements per parallel work item

void run_activation(ActivationKind kind, const char* name, const Tensor& x, Tensor& y) {
  check_f32_contiguous(x, "input", name);
  check_f32_contiguous(y, "output", name);
  DN_CHECK(x.shape() == y.shape(), "{}: output must be {} like the input, got {}", name, shape_str(x.shape()),
           shape_str(y.shape()));
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 2 * kChunk)
  for (int64_t start = 0; start < n; start += kChunk)
    HWY_DYNAMIC_DISPATCH(Activation)(kind, xp + start, yp + start, size_t(std::min(kChunk, n - start)));
}

Tensor new_activation(ActivationKind kind, const char* name, const Tensor& x) {
  Tensor y = Tensor::empty(x.shape());
  run_activation(kind, name, x, y);
  return y;
}

}  // namespace

void silu(const Tensor& x, Tensor& y) { run_activation(ActivationKind::kSilu, "silu", x, y); }
void gelu(const Tensor& x, Tensor& y) { run_activation(ActivationKind::kGelu, "gelu", x, y); }
void quick_gelu(const Tensor& x, Tensor& y) { run_activation(ActivationKind::kQuickGelu, "quick_gelu", x, y); }
Tensor silu(const Tensor& x) { return new_activation(ActivationKind::kSilu, "silu", x); }
Tensor gelu(const Tensor& x) { return new_activation(ActivationKind::kGelu, "gelu", x); }
Tensor quick_gelu(const Tensor& x) { return new_activation(ActivationKind::kQuickGelu, "quick_gelu", x); }

void geglu(const Tensor& x, Tensor& y) {
  check_f32_contiguous(x, "input", "geglu");
  check_f32_contiguous(y, "output", "geglu");
  DN_CHECK(x.dim() >= 1 && x.size(-1) % 2 == 0, "geglu: input must be [..., 2F], got {}", x.describe());
  Shape out = x.shape();
  out.back() /= 2;
  DN_CHECK(y.shape() == out, "geglu: output must be {} for input {}, got {}", shape_str(out), x.describe(),
           y.describe());
  const int64_t features = out.back();
  if (features == 0) return;
  const int64_t rows = x.numel() / (2 * features);
  const int64_t rows_per_item = std::max<int64_t>(1, kChunk / features);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
#pragma omp parallel for schedule(static) if (rows > 2 * rows_per_item)
  for (int64_t r = 0; r < rows; r += rows_per_item)
    HWY_DYNAMIC_DISPATCH(GegluRows)(xp + r * 2 * features, yp + r * features, size_t(std::min(rows_per_item, rows - r)), size_t(features));
}

Tensor geglu(const Tensor& x) {
  DN_CHECK(x.dim() >= 1 && x.size(-1) % 2 == 0, "geglu: input must be [..., 2F], got {}", x.describe());
  Shape out = x.shape();
  out.back() /= 2;
  Tensor y = Tensor::empty(out);
  geglu(x, y);
  return y;
}

}  // namespace diffnorm::ops
#endif
