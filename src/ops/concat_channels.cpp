#include "ops/concat_channels.h"

#include <cstring>

#include "core/check.h"
#include "ops/tensor_checks.h"

namespace diffnorm::ops {

namespace {

Shape concat_shape(const Tensor& a, const Tensor& b) {
  DN_CHECK(a.dim() >= 1 && a.dim() == b.dim(), "concat_channels: a and b must have the same rank >= 1, got {} and {}",
           a.describe(), b.describe());
  for (int64_t i = 0; i + 1 < a.dim(); ++i)
    DN_CHECK(a.size(i) == b.size(i), "concat_channels: a {} and b {} differ in dimension {} (only the last may)",
             a.describe(), b.describe(), i);
  Shape out = a.shape();
  out.back() += b.size(-1);
  return out;
}

}  // namespace

void concat_channels(const Tensor& a, const Tensor& b, Tensor& dst) {
  check_f32_contiguous(a, "a", "concat_channels");
  check_f32_contiguous(b, "b", "concat_channels");
  check_f32_contiguous(dst, "dst", "concat_channels");
  const Shape out = concat_shape(a, b);
  DN_CHECK(dst.shape() == out, "concat_channels: dst must be {} for a {} and b {}, got {}", shape_str(out),
           a.describe(), b.describe(), dst.describe());
  const int64_t ca = a.size(-1), cb = b.size(-1), c = ca + cb;
  if (c == 0) return;
  const int64_t pixels = dst.numel() / c;
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  float* d = dst.data<float>();
#pragma omp parallel for schedule(static) if (dst.numel() > (1 << 15))
  for (int64_t p = 0; p < pixels; ++p) {
    std::memcpy(d + p * c, ap + p * ca, std::size_t(ca) * sizeof(float));
    std::memcpy(d + p * c + ca, bp + p * cb, std::size_t(cb) * sizeof(float));
  }
}

Tensor concat_channels(const Tensor& a, const Tensor& b) {
  Tensor dst = Tensor::empty(concat_shape(a, b));
  concat_channels(a, b, dst);
  return dst;
}

}  // namespace diffnorm::ops
