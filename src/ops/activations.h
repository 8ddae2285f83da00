// Pointwise activations of the SD / SDXL networks, SIMD (Highway, dispatched at run time)
// and threaded. Inputs and outputs are contiguous f32 of equal shape; y may be x itself
// (in place).
//
//   silu(x)       = x * sigmoid(x)                      (ResNet blocks, time MLP)
//   gelu(x)       = x/2 * (1 + erf(x/sqrt(2)))           (exact GELU, not the tanh form)
//   quick_gelu(x) = x * sigmoid(1.702 x)                 (CLIP ViT-L)
//   geglu(x)      = h * gelu(g), [h | g] = x split in halves along the last dim
//                                                        (transformer feed-forward)
#pragma once

#include "diffnorm/tensor.h"

namespace diffnorm::ops {

void silu(const Tensor& x, Tensor& y);
void gelu(const Tensor& x, Tensor& y);
void quick_gelu(const Tensor& x, Tensor& y);
/// x [..., 2F] -> y [..., F].
void geglu(const Tensor& x, Tensor& y);

Tensor silu(const Tensor& x);
Tensor gelu(const Tensor& x);
Tensor quick_gelu(const Tensor& x);
Tensor geglu(const Tensor& x);

}  // namespace diffnorm::ops
