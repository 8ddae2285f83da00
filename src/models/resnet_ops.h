// The small NHWC fp32 kernels a ResNet needs beyond convolution, BatchNorm and Linear.
#pragma once

#include "diffnorm/tensor.h"

namespace diffnorm::models {

/// x = max(x, 0), in place.
void relu_(Tensor& x);
/// x = max(x + y, 0), in place (the residual join of a ResNet block; same shape).
void add_relu_(Tensor& x, const Tensor& y);
/// torch.nn.MaxPool2d(3, stride 2, padding 1) on [N, H, W, C]: padded positions never win.
Tensor max_pool_3x3_s2(const Tensor& x);
/// AdaptiveAvgPool2d(1) + flatten: [N, H, W, C] -> [N, C], mean over H·W (summed in double).
Tensor global_avg_pool(const Tensor& x);

}  // namespace diffnorm::models
