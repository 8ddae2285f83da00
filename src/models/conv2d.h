// Conv2d (torch.nn.Conv2d, groups = 1) on NHWC activations: weight [O, I, k, k], bias [O],
// run by ops::Conv2d (oneDNN), which keeps its own copy of the weights.
#pragma once

#include "nn/module_path.h"
#include "ops/conv2d.h"

namespace diffnorm::models {

class Conv2d {
 public:
  Conv2d(const nn::ModulePath& p, int64_t in_channels, int64_t out_channels, int64_t kernel,
         ops::Conv2dOptions options)
      : conv_(p.param("weight", {out_channels, in_channels, kernel, kernel}), p.param("bias", {out_channels}),
              options) {}

  /// [N, H, W, I] -> [N, Ho, Wo, O]
  Tensor forward(const Tensor& x) const { return conv_.forward(x); }
  /// dst += conv(x) + bias (a fused residual add; dst [N, Ho, Wo, O]).
  void forward_accumulate(const Tensor& x, Tensor& dst) const { conv_.forward(x, dst, true); }

 private:
  ops::Conv2d conv_;
};

}  // namespace diffnorm::models
