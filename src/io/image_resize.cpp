#include "io/image_resize.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "core/check.h"

namespace diffnorm {

namespace {

constexpr int kPrecisionBits = 22;  // Pillow's 32 - 8 - 2 fractional bits

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= std::numbers::pi;
  return std::sin(x) / x;
}

double lanczos3(double x) { return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3.0) : 0.0; }

// The inputs [first, first + weights.size()) of one output sample and their fixed-point weights.
struct Taps {
  int first = 0;
  std::vector<int32_t> weights;
};

std::vector<Taps> lanczos_taps(int in_size, int out_size) {
  const double scale = double(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 3.0 * filter_scale;
  std::vector<Taps> taps(out_size);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const int lo = std::max(int(center - support + 0.5), 0);  // int(): truncation, as Pillow's C cast
    const int hi = std::min(int(center + support + 0.5), in_size);
    std::vector<double> w(std::max(hi - lo, 0));
    double sum = 0;
    for (int x = 0; x < int(w.size()); ++x) sum += w[x] = lanczos3((x + lo - center + 0.5) / filter_scale);
    Taps& t = taps[i];
    t.first = lo;
    for (double v : w) {
      if (sum != 0.0) v /= sum;
      const double fixed = v * double(1 << kPrecisionBits);
      t.weights.push_back(int32_t(v < 0 ? fixed - 0.5 : fixed + 0.5));
    }
  }
  return taps;
}

uint8_t clip8(int64_t sum) {
  return uint8_t(std::clamp<int64_t>(sum >> kPrecisionBits, 0, 255));  // arithmetic shift: floor
}

// One pass along an axis: `src` viewed as [outer, n_in, inner] becomes [outer, n_out, inner].
std::vector<uint8_t> resample_axis(const std::vector<uint8_t>& src, int64_t outer, int n_in, int n_out,
                                   int64_t inner) {
  const std::vector<Taps> taps = lanczos_taps(n_in, n_out);
  std::vector<uint8_t> dst(std::size_t(outer * n_out * inner));
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    for (int i = 0; i < n_out; ++i) {
      const uint8_t* in = src.data() + o * n_in * inner;
      uint8_t* out = dst.data() + (o * n_out + i) * inner;
      const Taps& t = taps[i];
      for (int64_t k = 0; k < inner; ++k) {
        int64_t sum = int64_t(1) << (kPrecisionBits - 1);  // rounds the floor of clip8 to nearest
        for (std::size_t j = 0; j < t.weights.size(); ++j) sum += int64_t(in[(t.first + j) * inner + k]) * t.weights[j];
        out[k] = clip8(sum);
      }
    }
  }
  return dst;
}

}  // namespace

Tensor resize_lanczos(const Tensor& image, int width, int height) {
  DN_CHECK(image.dim() == 3 && image.dtype() == DType::U8 && image.numel() > 0,
           "resize_lanczos: expected a non-empty U8 image [H, W, C], got {}", image.describe());
  DN_CHECK(width > 0 && height > 0, "resize_lanczos: target size {}x{} must be positive", width, height);
  const int in_h = int(image.size(0)), in_w = int(image.size(1));
  const int64_t c = image.size(2);
  const Tensor src = image.contiguous();
  std::vector<uint8_t> pixels(src.data<uint8_t>(), src.data<uint8_t>() + src.numel());
  if (width != in_w) pixels = resample_axis(pixels, in_h, in_w, width, c);
  if (height != in_h) pixels = resample_axis(pixels, 1, in_h, height, int64_t(width) * c);
  Tensor out = Tensor::empty({height, width, c}, DType::U8);
  std::copy(pixels.begin(), pixels.end(), out.data<uint8_t>());
  return out;
}

}  // namespace diffnorm
