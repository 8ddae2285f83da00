#include "pipeline/timesteps.h"

#include <cmath>

#include "core/check.h"

namespace diffnorm {

std::vector<double> numpy_linspace(double start, double stop, int count) {
  DN_CHECK(count >= 0, "linspace: negative count {}", count);
  std::vector<double> y(count);
  if (count == 1) {
    y[0] = start;
    return y;
  }
  const double step = (stop - start) / double(count - 1);
  for (int i = 0; i < count; ++i) y[i] = double(i) * step + start;
  if (count > 1) y[count - 1] = stop;
  return y;
}

std::vector<double> numpy_arange(double start, double stop, double step) {
  DN_CHECK(step != 0, "arange: zero step");
  const double length = std::ceil((stop - start) / step);
  std::vector<double> y(length > 0 ? std::size_t(length) : 0);
  if (y.empty()) return y;
  y[0] = start;
  if (y.size() > 1) y[1] = start + step;
  const double delta = y.size() > 1 ? y[1] - start : step;
  for (std::size_t i = 2; i < y.size(); ++i) y[i] = start + double(i) * delta;
  return y;
}

double round_half_even(double x) { return std::nearbyint(x); }

std::vector<float> torch_linspace_f32(double start_d, double end_d, int64_t steps) {
  std::vector<float> y(steps);
  if (steps == 1) {
    y[0] = float(start_d);
    return y;
  }
  const float start = float(start_d), end = float(end_d);
  const float step = (end - start) / float(steps - 1);
  const int64_t halfway = steps / 2;
  // Scalar element (torch's serial op), also used for the tail after the vector loop. torch's
  // AVX2 kernels are compiled with FMA contraction: start + step * idx is one fma.
  auto scalar = [&](int64_t idx) {
    return idx < halfway ? std::fma(step, float(idx), start) : std::fma(-step, float(steps - idx - 1), end);
  };
  constexpr int64_t kVec = 8;  // Vectorized<float>::size() with AVX2
  int64_t i = 0;
  for (; i + 2 * kVec <= steps; i += 2 * kVec) {
    for (int64_t v = i; v < i + 2 * kVec; v += kVec) {
      const float base = scalar(v);  // Vectorized::arange(base, step) = base + k * step
      for (int64_t k = 0; k < kVec; ++k) y[v + k] = std::fma(float(k), step, base);
    }
  }
  for (; i < steps; ++i) y[i] = scalar(i);
  return y;
}

}  // namespace diffnorm
