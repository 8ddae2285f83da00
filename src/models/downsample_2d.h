// Downsample2D (diffusers, use_conv): a 3x3 stride-2 conv named "conv". padding = 1 pads
// every side (the UNet); padding = 0 pads only right and bottom by one, then pads nothing
// (the VAE encoder's asymmetric (0, 1, 0, 1) zero pad).
#pragma once

#include "models/conv2d.h"

namespace diffnorm::models {

class Downsample2D {
 public:
  Downsample2D(const nn::ModulePath& p, int64_t channels, int64_t padding)
      : conv_(p / "conv", channels, channels, 3, options(padding)) {}
  /// [N, H, W, C] -> [N, ceil-ish(H/2), ceil-ish(W/2), C]
  Tensor forward(const Tensor& x) const { return conv_.forward(x); }

 private:
  static ops::Conv2dOptions options(int64_t padding) {
    if (padding == 0) return {2, 0, 0, 1, 1};  // stride 2; top, left 0; bottom, right 1
    return ops::Conv2dOptions::symmetric(padding, 2);
  }
  Conv2d conv_;
};

}  // namespace diffnorm::models
