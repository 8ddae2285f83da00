// Test helpers for the ops: libtorch (float64) is the oracle, results are compared per
// element against a tolerance that scales with a per-element magnitude.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "diffnorm/tensor.h"

namespace diffnorm::ops::test {

constexpr double kEps32 = 0x1p-23;  // float32 machine epsilon (2^-23)

/// f32 diffnorm tensor -> contiguous float64 torch tensor.
inline torch::Tensor to_torch64(const Tensor& t) {
  Tensor c = t.contiguous();
  std::vector<int64_t> shape(c.shape().begin(), c.shape().end());
  return torch::from_blob(const_cast<void*>(c.raw()), shape, torch::kFloat32).to(torch::kFloat64).clone();
}

/// torch tensor (any float dtype) -> contiguous f32 diffnorm tensor.
inline Tensor from_torch(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kFloat32).contiguous();
  Tensor out = Tensor::empty(Shape(c.sizes().begin(), c.sizes().end()));
  std::memcpy(out.raw(), c.data_ptr(), out.nbytes());
  return out;
}

/// Uniform random f32 values in [-1, 1) (drawn by torch), as a diffnorm tensor.
inline Tensor random_tensor(Shape shape) {
  std::vector<int64_t> s(shape.begin(), shape.end());
  return from_torch(torch::rand(s, torch::kFloat64) * 2 - 1);
}

/// A tensor filled with NaN, so that an element the kernel forgets to write shows up.
inline Tensor poisoned(Shape shape) {
  return Tensor::full(std::move(shape), std::numeric_limits<double>::quiet_NaN());
}

/// Asserts |got - want| <= tol * scale element-wise (want, scale: float64 torch tensors of
/// got's shape). Reports the worst element as the ratio error / (tol * scale).
inline void expect_close(const Tensor& got, const torch::Tensor& want, const torch::Tensor& scale, double tol,
                         const std::string& what) {
  ASSERT_EQ(Shape(want.sizes().begin(), want.sizes().end()), got.shape()) << what;
  const torch::Tensor g = to_torch64(got).flatten();
  const torch::Tensor w = want.contiguous().flatten();
  const torch::Tensor s = scale.expand(want.sizes()).contiguous().flatten();
  ASSERT_FALSE(torch::isnan(g).any().item<bool>()) << what << ": NaN in the result (unwritten element?)";
  const torch::Tensor ratio = (g - w).abs() / (tol * s + 1e-300);
  const int64_t worst = ratio.argmax().item<int64_t>();
  EXPECT_LE(ratio[worst].item<double>(), 1.0)
      << what << ": element " << worst << " got " << g[worst].item<double>() << " want " << w[worst].item<double>()
      << " (|err| " << std::abs(g[worst].item<double>() - w[worst].item<double>()) << ", allowed "
      << tol * s[worst].item<double>() << ")";
}

/// A deterministic generator for the random shapes of one test.
inline std::mt19937& shape_rng() {
  static std::mt19937 rng(20240611);
  return rng;
}
inline int64_t rand_int(int64_t lo, int64_t hi) {  // inclusive
  return std::uniform_int_distribution<int64_t>(lo, hi)(shape_rng());
}

}  // namespace diffnorm::ops::test
