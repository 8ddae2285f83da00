// Upsample2D (diffusers, use_conv): nearest-neighbour ×2, then a 3x3 conv named "conv".
#pragma once

#include "models/conv2d.h"
#include "ops/upsample_nearest.h"

namespace diffnorm::models {

class Upsample2D {
 public:
  Upsample2D(const nn::ModulePath& p, int64_t channels)
      : conv_(p / "conv", channels, channels, 3, ops::Conv2dOptions::symmetric(1)) {}
  /// [N, H, W, C] -> [N, 2H, 2W, C]
  Tensor forward(const Tensor& x) const { return conv_.forward(ops::upsample_nearest2x(x)); }

 private:
  Conv2d conv_;
};

}  // namespace diffnorm::models
