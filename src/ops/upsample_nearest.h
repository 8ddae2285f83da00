// Nearest-neighbour x2 upsampling of channels-last images (diffusers Upsample2D's
// F.interpolate(scale_factor=2.0, mode="nearest")):
//   dst[n, y, x, c] = src[n, y/2, x/2, c],   src [N, H, W, C] -> dst [N, 2H, 2W, C], f32.
#pragma once

#include "diffnorm/tensor.h"

namespace diffnorm::ops {

void upsample_nearest2x(const Tensor& src, Tensor& dst);
Tensor upsample_nearest2x(const Tensor& src);

}  // namespace diffnorm::ops
