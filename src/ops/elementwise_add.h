// Residual and conditioning adds, in place, SIMD and threaded (f32, contiguous).
//
//   add_inplace(x, y):           x += y                         (same shape)
//   add_broadcast_inplace(x, v): x[n, s, c] += v[n, c]          x [N, *S, C], v [N, C]
//     (the ResNet time-embedding add: diffusers' temb[:, :, None, None] on NCHW is a
//      per-(n, c) vector broadcast over H, W; here channels are last)
#pragma once

#include "diffnorm/tensor.h"

namespace diffnorm::ops {

void add_inplace(Tensor& x, const Tensor& y);
void add_broadcast_inplace(Tensor& x, const Tensor& v);

}  // namespace diffnorm::ops
