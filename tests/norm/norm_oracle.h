// Shared helpers of the norm tests: random inputs in a storage dtype, the float64 PyTorch
// reference and the error metric. Activations are handled in the logical shape
// [N, C, S] (channel dim 1); NHWC buffers are its permutation [N, S, C].
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "diffnorm/dtype.h"
#include "diffnorm/norm.h"

namespace diffnorm::test {

/// A new seed per call, from the clock; DIFFNORM_TEST_SEED=S replays a printed seed (every
/// call then returns S: run the failing test alone with --gtest_filter).
inline uint64_t fresh_seed() {
  if (const char* replay = std::getenv("DIFFNORM_TEST_SEED")) return std::strtoull(replay, nullptr, 10);
  static const uint64_t base = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  static uint64_t k = 0;
  return base + 0x9e3779b97f4a7c15ull * ++k;
}

inline torch::TensorOptions f64() { return torch::TensorOptions().dtype(torch::kFloat64); }

/// Rounds each element of a double tensor to the storage type and back (exact image of
/// what the kernel reads).
inline torch::Tensor round_to(const torch::Tensor& t, DType dtype) {
  torch::Tensor f = t.to(torch::kFloat32).contiguous();
  float* p = f.data_ptr<float>();
  for (int64_t i = 0; i < f.numel(); ++i) {
    if (dtype == DType::BF16) p[i] = bf16_to_f32(f32_to_bf16(p[i]));
    if (dtype == DType::F16) p[i] = f16_to_f32(f32_to_f16(p[i]));
  }
  return f.to(torch::kFloat64);
}

/// A storage buffer holding logical [N, C, S] `t` (already representable) in a layout.
struct Buffer {
  std::vector<uint8_t> bytes;
  DType dtype;
  void* data() { return bytes.data(); }
  const void* data() const { return bytes.data(); }
};

inline Buffer to_buffer(const torch::Tensor& logical, Layout layout, DType dtype) {
  torch::Tensor t = (layout == Layout::NHWC ? logical.permute({0, 2, 1}) : logical).contiguous().to(torch::kFloat32);
  Buffer b{std::vector<uint8_t>(size_t(t.numel()) * dtype_size(dtype)), dtype};
  convert(t.data_ptr<float>(), DType::F32, b.data(), dtype, size_t(t.numel()));
  return b;
}

/// A NaN-poisoned buffer for outputs of the same shape.
inline Buffer poisoned(int64_t numel, DType dtype) {
  Buffer b{std::vector<uint8_t>(size_t(numel) * dtype_size(dtype)), dtype};
  std::vector<float> nan(size_t(numel), std::numeric_limits<float>::quiet_NaN());
  convert(nan.data(), DType::F32, b.data(), dtype, size_t(numel));
  return b;
}
inline std::vector<float> poisoned_f32(int64_t n) {
  return std::vector<float>(size_t(n), std::numeric_limits<float>::quiet_NaN());
}

inline torch::Tensor from_buffer(const Buffer& b, int64_t N, int64_t C, int64_t S, Layout layout) {
  torch::Tensor f = torch::empty({N * C * S}, torch::kFloat32);
  convert(b.data(), b.dtype, f.data_ptr<float>(), DType::F32, size_t(N * C * S));
  torch::Tensor t = layout == Layout::NHWC ? f.view({N, S, C}).permute({0, 2, 1}) : f.view({N, C, S});
  return t.to(torch::kFloat64).contiguous();
}

inline torch::Tensor from_floats(const std::vector<float>& v, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).to(torch::kFloat64).clone();
}
inline std::vector<float> to_floats(const torch::Tensor& t) {
  torch::Tensor f = t.to(torch::kFloat32).contiguous();
  return std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
}

/// max |got − ref| / max |ref| (ref all zero: max |got|).
inline double rel_err(const torch::Tensor& got, const torch::Tensor& ref) {
  const double scale = ref.abs().max().item<double>();
  const double err = (got - ref).abs().max().item<double>();
  return scale > 0 ? err / scale : err;
}

/// Worst |got − ref| in units of the storage type's spacing at |ref| (ulp of bf16/f16),
/// after forgiving an absolute `slack` (the fp32 computation's own error near zero).
inline double ulp_err(const torch::Tensor& got, const torch::Tensor& ref, DType dtype, double slack) {
  const int mant = dtype == DType::BF16 ? 7 : 10;
  const double min_exp = dtype == DType::BF16 ? -126 : -14;
  torch::Tensor e = torch::floor(torch::log2(ref.abs().clamp_min(1e-300))).clamp_min(min_exp);
  torch::Tensor ulp = torch::pow(2.0, e - mant);
  return (((got - ref).abs() - slack).clamp_min(0) / ulp).max().item<double>();
}

inline bool all_finite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

}  // namespace diffnorm::test
