#include "pipeline/image_quality.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/check.h"

namespace diffnorm::pipeline {
namespace {

constexpr double kRange = 255.0;
constexpr double kSigma = 1.5;
constexpr int kRadius = int(3.5 * kSigma + 0.5);  // scipy's truncate = 3.5

void check_pair(const Tensor& a, const Tensor& b, const char* what) {
  DN_CHECK(a.dtype() == DType::U8 && b.dtype() == DType::U8 && a.dim() == 3 && b.dim() == 3,
           "{}: expected two U8 images [H, W, C], got {} and {}", what, a.describe(), b.describe());
  DN_CHECK(a.shape() == b.shape(), "{}: the images differ in size: {}x{} ({} channels) vs {}x{} ({} channels)", what,
           a.size(1), a.size(0), a.size(2), b.size(1), b.size(0), b.size(2));
}

/// scipy.ndimage._gaussian_kernel1d: exp(-x²/(2σ²)) for x in [-r, r], normalised.
std::vector<double> gaussian_taps() {
  std::vector<double> w(2 * kRadius + 1);
  double sum = 0;
  for (int i = -kRadius; i <= kRadius; ++i) sum += w[size_t(i + kRadius)] = std::exp(-0.5 / (kSigma * kSigma) * i * i);
  for (double& v : w) v /= sum;
  return w;
}

/// G∗f at the valid pixels only: [H, W] -> [H − 2r, W − 2r] (no border handling needed).
std::vector<double> filter_valid(const std::vector<double>& f, int64_t H, int64_t W, const std::vector<double>& g) {
  const int64_t Hv = H - 2 * kRadius, Wv = W - 2 * kRadius;
  std::vector<double> rows(size_t(Hv * W)), out(size_t(Hv * Wv));
  for (int64_t y = 0; y < Hv; ++y)  // along axis 0 first, as scipy does
    for (int64_t x = 0; x < W; ++x) {
      double s = 0;
      for (int k = 0; k <= 2 * kRadius; ++k) s += g[size_t(k)] * f[size_t((y + k) * W + x)];
      rows[size_t(y * W + x)] = s;
    }
  for (int64_t y = 0; y < Hv; ++y)
    for (int64_t x = 0; x < Wv; ++x) {
      double s = 0;
      for (int k = 0; k <= 2 * kRadius; ++k) s += g[size_t(k)] * rows[size_t(y * W + x + k)];
      out[size_t(y * Wv + x)] = s;
    }
  return out;
}

}  // namespace

double psnr(const Tensor& a, const Tensor& b) {
  check_pair(a, b, "psnr");
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  const uint8_t* p = ca.data<uint8_t>();
  const uint8_t* q = cb.data<uint8_t>();
  double sum = 0;
  for (int64_t i = 0; i < ca.numel(); ++i) {
    const double d = double(p[i]) - double(q[i]);
    sum += d * d;
  }
  if (sum == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(kRange * kRange / (sum / double(ca.numel())));
}

double ssim(const Tensor& a, const Tensor& b) {
  check_pair(a, b, "ssim");
  const int64_t H = a.size(0), W = a.size(1), C = a.size(2);
  DN_CHECK(H >= 2 * kRadius + 1 && W >= 2 * kRadius + 1,
           "ssim: images of {}x{} are smaller than the {}x{} Gaussian window", W, H, 2 * kRadius + 1, 2 * kRadius + 1);
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  const uint8_t* p = ca.data<uint8_t>();
  const uint8_t* q = cb.data<uint8_t>();
  const std::vector<double> g = gaussian_taps();
  const double C1 = (0.01 * kRange) * (0.01 * kRange), C2 = (0.03 * kRange) * (0.03 * kRange);
  double total = 0;
  for (int64_t c = 0; c < C; ++c) {
    const size_t n = size_t(H * W);
    std::vector<double> x(n), y(n), xx(n), yy(n), xy(n);
    for (size_t i = 0; i < n; ++i) {
      x[i] = p[i * size_t(C) + size_t(c)];
      y[i] = q[i * size_t(C) + size_t(c)];
      xx[i] = x[i] * x[i];
      yy[i] = y[i] * y[i];
      xy[i] = x[i] * y[i];
    }
    const std::vector<double> ux = filter_valid(x, H, W, g), uy = filter_valid(y, H, W, g),
                              uxx = filter_valid(xx, H, W, g), uyy = filter_valid(yy, H, W, g),
                              uxy = filter_valid(xy, H, W, g);
    double sum = 0;
    for (size_t i = 0; i < ux.size(); ++i) {
      const double vx = uxx[i] - ux[i] * ux[i], vy = uyy[i] - uy[i] * uy[i], vxy = uxy[i] - ux[i] * uy[i];
      sum += ((2 * ux[i] * uy[i] + C1) * (2 * vxy + C2)) / ((ux[i] * ux[i] + uy[i] * uy[i] + C1) * (vx + vy + C2));
    }
    total += sum / double(ux.size());
  }
  return total / double(C);
}

ImageQuality image_quality(const Tensor& a, const Tensor& b) { return {psnr(a, b), ssim(a, b)}; }

}  // namespace diffnorm::pipeline
