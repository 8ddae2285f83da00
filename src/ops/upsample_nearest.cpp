#include "ops/upsample_nearest.h"

#include <cstring>

#include "core/check.h"
#include "ops/tensor_checks.h"

namespace diffnorm::ops {

void upsample_nearest2x(const Tensor& src, Tensor& dst) {
  check_f32_contiguous(src, "src", "upsample_nearest2x");
  check_f32_contiguous(dst, "dst", "upsample_nearest2x");
  DN_CHECK(src.dim() == 4, "upsample_nearest2x: src must be NHWC [N, H, W, C], got {}", src.describe());
  const int64_t n = src.size(0), h = src.size(1), w = src.size(2), c = src.size(3);
  DN_CHECK(dst.shape() == Shape({n, 2 * h, 2 * w, c}), "upsample_nearest2x: dst must be [{}, {}, {}, {}], got {}", n,
           2 * h, 2 * w, c, dst.describe());
  const float* s = src.data<float>();
  float* d = dst.data<float>();
  const std::size_t pixel = std::size_t(c) * sizeof(float);
  const int64_t out_row = 2 * w * c;
#pragma omp parallel for schedule(static) if (src.numel() > (1 << 15))
  for (int64_t row = 0; row < n * h; ++row) {  // row = (n, y) of the source
    const float* in = s + row * w * c;
    float* out = d + 2 * row * out_row;  // output rows 2y and 2y+1
    for (int64_t x = 0; x < w; ++x) {
      std::memcpy(out + 2 * x * c, in + x * c, pixel);
      std::memcpy(out + (2 * x + 1) * c, in + x * c, pixel);
    }
    std::memcpy(out + out_row, out, std::size_t(out_row) * sizeof(float));
  }
}

Tensor upsample_nearest2x(const Tensor& src) {
  DN_CHECK(src.dim() == 4, "upsample_nearest2x: src must be NHWC [N, H, W, C], got {}", src.describe());
  Tensor dst = Tensor::empty({src.size(0), 2 * src.size(1), 2 * src.size(2), src.size(3)});
  upsample_nearest2x(src, dst);
  return dst;
}

}  // namespace diffnorm::ops
