// TimestepEmbedding (diffusers): linear_2(SiLU(linear_1(x))), [B, in] -> [B, out].
#pragma once

#include "models/linear.h"
#include "ops/activations.h"

namespace diffnorm::models {

class TimestepEmbedding {
 public:
  TimestepEmbedding(const nn::ModulePath& p, int64_t in_channels, int64_t out_channels)
      : linear_1_(p / "linear_1", in_channels, out_channels), linear_2_(p / "linear_2", out_channels, out_channels) {}
  Tensor forward(const Tensor& x) const {
    Tensor h = linear_1_.forward(x);
    ops::silu(h, h);
    return linear_2_.forward(h);
  }

 private:
  Linear linear_1_, linear_2_;
};

}  // namespace diffnorm::models
