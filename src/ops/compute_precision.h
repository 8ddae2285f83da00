// The arithmetic of the weighted ops (Conv2d, Linear), chosen once before models are built
// (each op stores its weights in it):
//   F32   fp32 inputs and weights: the reference implementation's arithmetic.
//   BF16  inputs and weights rounded to bfloat16, products accumulated in fp32, fp32 output
//         (what torch.set_float32_matmul_precision("medium") allows). Half the weight
//         memory and about twice the multiply throughput on CPUs with AVX512-BF16 or AMX;
//         each layer's result moves by about 2^-9 relative to fp32.
// Everything else (normalization, softmax, activations, the residual stream) stays fp32.
#pragma once

#include <string_view>

#include "diffnorm/tensor.h"

namespace diffnorm::ops {

enum class ComputePrecision { F32, BF16 };

void set_compute_precision(ComputePrecision precision);
ComputePrecision compute_precision();
/// "fp32" / "f32" or "bf16"; Error naming the value otherwise.
ComputePrecision parse_compute_precision(std::string_view name);
std::string_view to_string(ComputePrecision precision);

/// A contiguous f32 tensor rounded to bf16 (to nearest even), converted in parallel.
Tensor to_bf16(const Tensor& src);

}  // namespace diffnorm::ops
