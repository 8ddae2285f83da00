#include "ops/compute_precision.h"

#include <algorithm>
#include <atomic>

#include "core/check.h"

namespace diffnorm::ops {
namespace {
std::atomic<ComputePrecision> g_precision{ComputePrecision::F32};
}  // namespace

void set_compute_precision(ComputePrecision precision) { g_precision = precision; }
ComputePrecision compute_precision() { return g_precision; }

ComputePrecision parse_compute_precision(std::string_view name) {
  if (name == "fp32" || name == "f32") return ComputePrecision::F32;
  if (name == "bf16") return ComputePrecision::BF16;
  fail("unknown precision '{}' (expected fp32 or bf16)", name);
}

std::string_view to_string(ComputePrecision precision) {
  return precision == ComputePrecision::BF16 ? "bf16" : "fp32";
}

Tensor to_bf16(const Tensor& src) {
  DN_CHECK(src.dtype() == DType::F32 && src.is_contiguous(), "to_bf16: src must be contiguous f32, got {}",
           src.describe());
  Tensor dst = Tensor::empty(src.shape(), DType::BF16);
  const int64_t n = src.numel();
  constexpr int64_t kChunk = 1 << 16;
  const float* in = src.data<float>();
  auto* out = static_cast<bfloat16*>(dst.raw());
#pragma omp parallel for schedule(static)
  for (int64_t start = 0; start < n; start += kChunk)
    convert(in + start, DType::F32, out + start, DType::BF16, std::size_t(std::min(kChunk, n - start)));
  return dst;
}

}  // namespace diffnorm::ops
