// Upsample2D (diffusers, use_conv): nearest-neighbour ×2, then a 3x3 conv named "conv".
// The UNet passes an explicit output size when the input was not a multiple of its total
// downsampling factor (diffusers' upsample_size = the next skip's size): then nearest
// resizing follows PyTorch's rule src = min(floor(dst · in/out), in − 1).
#pragma once

#include "models/conv2d.h"

namespace diffnorm::models {

class Upsample2D {
 public:
  Upsample2D(const nn::ModulePath& p, int64_t channels)
      : conv_(p / "conv", channels, channels, 3, ops::Conv2dOptions::symmetric(1)) {}
  /// [N, H, W, C] -> [N, out_h, out_w, C]; out_h/out_w = 0 means 2H / 2W.
  Tensor forward(const Tensor& x, int64_t out_h = 0, int64_t out_w = 0) const;

 private:
  Conv2d conv_;
};

}  // namespace diffnorm::models
