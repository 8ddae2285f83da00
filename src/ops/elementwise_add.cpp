#include "ops/elementwise_add.h"

#include <algorithm>

#include "core/check.h"
#include "ops/tensor_checks.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/elementwise_add.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace diffnorm::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// x[i] += y[i], i < n.
void AddRange(float* x, const float* y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::Add(hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, x + i);
  for (; i < n; ++i) x[i] += y[i];
}

// rows of x [rows, c]: x[r, :] += v[:].
void AddRowVector(float* x, const float* v, size_t rows, size_t c) {
  for (size_t r = 0; r < rows; ++r) AddRange(x + r * c, v, c);
}

}  // namespace HWY_NAMESPACE
}  // namespace diffnorm::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace diffnorm::ops {
HWY_EXPORT(AddRange);
HWY_EXPORT(AddRowVector);

namespace {
constexpr int64_t kChunk = 1 << 14;  // elements per parallel work item
}

void add_inplace(Tensor& x, const Tensor& y) {
  check_f32_contiguous(x, "x", "add_inplace");
  check_f32_contiguous(y, "y", "add_inplace");
  DN_CHECK(x.shape() == y.shape(), "add_inplace: y must have x's shape {}, got {}", shape_str(x.shape()),
           y.describe());
  float* xp = x.data<float>();
  const float* yp = y.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 2 * kChunk)
  for (int64_t start = 0; start < n; start += kChunk)
    HWY_DYNAMIC_DISPATCH(AddRange)(xp + start, yp + start, size_t(std::min(kChunk, n - start)));
}

void add_broadcast_inplace(Tensor& x, const Tensor& v) {
  check_f32_contiguous(x, "x", "add_broadcast_inplace");
  check_f32_contiguous(v, "v", "add_broadcast_inplace");
  DN_CHECK(x.dim() >= 2 && v.dim() == 2 && v.size(0) == x.size(0) && v.size(1) == x.size(-1),
           "add_broadcast_inplace: x must be [N, ..., C] and v [N, C], got x {} and v {}", x.describe(),
           v.describe());
  const int64_t n = x.size(0), c = x.size(-1);
  if (x.numel() == 0) return;
  const int64_t rows_per_image = x.numel() / (n * c);
  const int64_t rows_per_item = std::max<int64_t>(1, kChunk / std::max<int64_t>(c, 1));
  const int64_t items_per_image = (rows_per_image + rows_per_item - 1) / rows_per_item;
  float* xp = x.data<float>();
  const float* vp = v.data<float>();
#pragma omp parallel for schedule(static) if (x.numel() > 2 * kChunk)
  for (int64_t item = 0; item < n * items_per_image; ++item) {
    const int64_t image = item / items_per_image;
    const int64_t row0 = (item % items_per_image) * rows_per_item;
    const int64_t rows = std::min(rows_per_item, rows_per_image - row0);
    HWY_DYNAMIC_DISPATCH(AddRowVector)(xp + (image * rows_per_image + row0) * c, vp + image * c, size_t(rows), size_t(c));
  }
}

}  // namespace diffnorm::ops
#endif
