#include "models/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/check.h"

namespace diffnorm::models {

namespace {

void check_f32_contiguous(const Tensor& t, const char* what) {
  DN_CHECK(t.dtype() == DType::F32 && t.is_contiguous(), "{}: expected a contiguous f32 tensor, got {}", what,
           t.describe());
}

}  // namespace

void activate_(Tensor& x, Act act) {
  check_f32_contiguous(x, "activation");
  float* p = x.data<float>();
  const int64_t n = x.numel();
  switch (act) {
    case Act::SiLU:
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] / (1.0f + std::exp(-p[i]));
      break;
    case Act::GELU:
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) p[i] = 0.5f * p[i] * (1.0f + std::erf(p[i] * float(M_SQRT1_2)));
      break;
    case Act::QuickGELU:
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] / (1.0f + std::exp(-1.702f * p[i]));
      break;
  }
}

Tensor activate(const Tensor& x, Act act) {
  Tensor y = x.clone();
  activate_(y, act);
  return y;
}

void add_(Tensor& x, const Tensor& y) {
  check_f32_contiguous(x, "add");
  DN_CHECK(x.shape() == y.shape(), "add: shapes {} and {} differ", x.describe(), y.describe());
  const Tensor yc = y.contiguous();
  float* a = x.data<float>();
  const float* b = yc.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) a[i] += b[i];
}

void add_per_sample_channel_(Tensor& x, const Tensor& v) {
  check_f32_contiguous(x, "add_per_sample_channel");
  const int64_t n = x.size(0), c = x.size(-1);
  DN_CHECK(v.dim() == 2 && v.size(0) == n && v.size(1) == c, "add_per_sample_channel: {} does not fit {}",
           v.describe(), x.describe());
  const Tensor vc = v.contiguous();
  const int64_t rows = x.numel() / (n * c);
  float* xp = x.data<float>();
  const float* vp = vc.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t s = 0; s < n; ++s)
    for (int64_t r = 0; r < rows; ++r) {
      float* row = xp + (s * rows + r) * c;
      const float* add = vp + s * c;
#pragma omp simd
      for (int64_t i = 0; i < c; ++i) row[i] += add[i];
    }
}

void scale_(Tensor& x, float s) {
  check_f32_contiguous(x, "scale");
  float* p = x.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) p[i] *= s;
}

Tensor geglu_gate(const Tensor& h) {
  check_f32_contiguous(h, "geglu");
  const int64_t two_d = h.size(-1), d = two_d / 2;
  DN_CHECK(two_d % 2 == 0, "geglu: last dimension of {} is odd", h.describe());
  Shape shape = h.shape();
  shape.back() = d;
  Tensor out = Tensor::empty(shape);
  const int64_t rows = h.numel() / two_d;
  const float* hp = h.data<float>();
  float* op = out.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* value = hp + r * two_d;
    const float* gate = value + d;
    for (int64_t i = 0; i < d; ++i)
      op[r * d + i] = value[i] * (0.5f * gate[i] * (1.0f + std::erf(gate[i] * float(M_SQRT1_2))));
  }
  return out;
}

Tensor upsample_nearest2x_nhwc(const Tensor& x) {
  check_f32_contiguous(x, "upsample");
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  Tensor y = Tensor::empty({n, 2 * h, 2 * w, c});
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < 2 * h; ++oy)
      for (int64_t ox = 0; ox < 2 * w; ++ox)
        std::memcpy(yp + ((b * 2 * h + oy) * 2 * w + ox) * c, xp + ((b * h + oy / 2) * w + ox / 2) * c,
                    std::size_t(c) * sizeof(float));
  return y;
}

Tensor concat_channels_nhwc(const Tensor& a, const Tensor& b) {
  check_f32_contiguous(a, "concat");
  check_f32_contiguous(b, "concat");
  DN_CHECK(a.dim() == 4 && b.dim() == 4 && a.size(0) == b.size(0) && a.size(1) == b.size(1) && a.size(2) == b.size(2),
           "concat: {} and {} differ in N, H or W", a.describe(), b.describe());
  const int64_t ca = a.size(3), cb = b.size(3), pixels = a.numel() / ca;
  Tensor y = Tensor::empty({a.size(0), a.size(1), a.size(2), ca + cb});
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  float* yp = y.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < pixels; ++p) {
    std::memcpy(yp + p * (ca + cb), ap + p * ca, std::size_t(ca) * sizeof(float));
    std::memcpy(yp + p * (ca + cb) + ca, bp + p * cb, std::size_t(cb) * sizeof(float));
  }
  return y;
}

Tensor timestep_sinusoid(const Tensor& t, int64_t dim, bool flip_sin_to_cos, double freq_shift) {
  const Tensor tf = t.to(DType::F32).reshape({-1});
  const int64_t b = tf.numel(), half = dim / 2;
  // As the reference: exponent = (float(-ln 10000) * i) / float(half - shift), all float32.
  const float neg_log = float(-std::log(10000.0));
  const float denom = float(double(half) - freq_shift);
  std::vector<float> freq(static_cast<std::size_t>(half));
  for (int64_t i = 0; i < half; ++i) freq[i] = std::exp((neg_log * float(i)) / denom);
  Tensor out = Tensor::zeros({b, dim});
  const float* tp = tf.data<float>();
  float* op = out.data<float>();
  for (int64_t r = 0; r < b; ++r)
    for (int64_t i = 0; i < half; ++i) {
      const float arg = tp[r] * freq[i];
      const float s = std::sin(arg), c = std::cos(arg);
      op[r * dim + i] = flip_sin_to_cos ? c : s;
      op[r * dim + half + i] = flip_sin_to_cos ? s : c;
    }
  return out;
}

}  // namespace diffnorm::models
