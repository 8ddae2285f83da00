#include "models/upsample_2d.h"

#include <cmath>
#include <cstring>

#include "ops/upsample_nearest.h"

namespace diffnorm::models {

namespace {

// PyTorch's nearest source index for output index `o` (upsample_nearest2d, no scale given).
int64_t nearest_source(int64_t o, int64_t in, int64_t out) {
  if (out == in) return o;
  if (out == 2 * in) return o >> 1;
  const float scale = float(in) / float(out);
  return std::min(int64_t(std::floor(float(o) * scale)), in - 1);
}

Tensor resize_nearest_nhwc(const Tensor& x, int64_t out_h, int64_t out_w) {
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  Tensor y = Tensor::empty({n, out_h, out_w, c});
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < out_h; ++oy)
      for (int64_t ox = 0; ox < out_w; ++ox)
        std::memcpy(yp + ((b * out_h + oy) * out_w + ox) * c,
                    xp + ((b * h + nearest_source(oy, h, out_h)) * w + nearest_source(ox, w, out_w)) * c,
                    std::size_t(c) * sizeof(float));
  return y;
}

}  // namespace

Tensor Upsample2D::forward(const Tensor& x, int64_t out_h, int64_t out_w) const {
  const bool doubling = (out_h == 0 || out_h == 2 * x.size(1)) && (out_w == 0 || out_w == 2 * x.size(2));
  return conv_.forward(doubling ? ops::upsample_nearest2x(x) : resize_nearest_nhwc(x.contiguous(), out_h, out_w));
}

}  // namespace diffnorm::models
