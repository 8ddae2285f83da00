// ResnetBlock2D (diffusers), NHWC:
//   h = conv1(SiLU(norm1(x)))  [+ time_emb_proj(SiLU(temb))[:, None, None, :]]
//   h = conv2(SiLU(norm2(h)))          (dropout is identity at inference)
//   y = (shortcut(x) + h) / output_scale_factor,  shortcut = 1x1 conv_shortcut when the
//   channel count changes, identity otherwise.
#pragma once

#include <optional>

#include "models/conv2d.h"
#include "models/group_norm.h"
#include "models/linear.h"

namespace diffnorm::models {

struct ResnetBlock2DOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t temb_channels = 0;  // 0: no time embedding (the VAE)
  int64_t groups = 32;
  float eps = 1e-6f;
  float output_scale_factor = 1.0f;
};

class ResnetBlock2D {
 public:
  ResnetBlock2D(const nn::ModulePath& p, const ResnetBlock2DOptions& o);
  /// x [N, H, W, in] NHWC; temb_act = SiLU(temb) [N, temb_channels] (undefined without).
  Tensor forward(const Tensor& x, const Tensor& temb_act) const;

 private:
  ResnetBlock2DOptions o_;
  GroupNorm norm1_, norm2_;
  Conv2d conv1_, conv2_;
  std::optional<Linear> time_emb_proj_;
  std::optional<Conv2d> conv_shortcut_;
};

}  // namespace diffnorm::models
