#include "models/resnet_ops.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "core/check.h"

namespace diffnorm::models {

void relu_(Tensor& x) {
  float* p = x.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) p[i] = std::max(p[i], 0.0f);
}

void add_relu_(Tensor& x, const Tensor& y) {
  DN_CHECK(x.shape() == y.shape(), "add_relu_: shapes {} and {} differ", x.describe(), y.describe());
  float* p = x.data<float>();
  const float* q = y.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) p[i] = std::max(p[i] + q[i], 0.0f);
}

Tensor max_pool_3x3_s2(const Tensor& x) {
  DN_CHECK(x.dim() == 4, "max_pool_3x3_s2 needs [N, H, W, C], got {}", x.describe());
  const int64_t N = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const int64_t Ho = (H + 2 - 3) / 2 + 1, Wo = (W + 2 - 3) / 2 + 1;
  Tensor y = Tensor::empty({N, Ho, Wo, C});
  const float* src = x.data<float>();
  float* dst = y.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oy = 0; oy < Ho; ++oy)
      for (int64_t ox = 0; ox < Wo; ++ox) {
        float* out = dst + ((n * Ho + oy) * Wo + ox) * C;
        std::fill(out, out + C, -std::numeric_limits<float>::infinity());
        for (int64_t iy = std::max<int64_t>(2 * oy - 1, 0); iy <= std::min(2 * oy + 1, H - 1); ++iy)
          for (int64_t ix = std::max<int64_t>(2 * ox - 1, 0); ix <= std::min(2 * ox + 1, W - 1); ++ix) {
            const float* in = src + ((n * H + iy) * W + ix) * C;
            for (int64_t c = 0; c < C; ++c) out[c] = std::max(out[c], in[c]);
          }
      }
  return y;
}

Tensor global_avg_pool(const Tensor& x) {
  DN_CHECK(x.dim() == 4, "global_avg_pool needs [N, H, W, C], got {}", x.describe());
  const int64_t N = x.size(0), S = x.size(1) * x.size(2), C = x.size(3);
  Tensor y = Tensor::empty({N, C});
  const float* src = x.data<float>();
  float* dst = y.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> sum(size_t(C), 0.0);
    for (int64_t s = 0; s < S; ++s)
      for (int64_t c = 0; c < C; ++c) sum[size_t(c)] += src[(n * S + s) * C + c];
    for (int64_t c = 0; c < C; ++c) dst[n * C + c] = float(sum[size_t(c)] / double(S));
  }
  return y;
}

}  // namespace diffnorm::models
