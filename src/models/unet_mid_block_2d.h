// UNetMidBlock2D (diffusers; the VAE's mid block): resnets.0 -> attentions.0 -> resnets.1,
// no time embedding. The attention is single-head (head_dim = C), with q/k/v biases, its
// own GroupNorm(groups, eps) and a residual connection, on the NHWC pixels as tokens.
#pragma once

#include <string>

#include "models/attention.h"
#include "models/resnet_block_2d.h"

namespace diffnorm::models {

class UNetMidBlock2D {
 public:
  UNetMidBlock2D(const nn::ModulePath& p, int64_t channels, int64_t groups, float eps)
      : path_(p.path()),
        resnet0_(p / "resnets" / 0, resnet_options(channels, groups, eps)),
        attention_(p / "attentions" / 0, attention_options(channels, groups, eps)),
        resnet1_(p / "resnets" / 1, resnet_options(channels, groups, eps)) {}

  /// x NHWC [N, H, W, C]
  Tensor forward(const Tensor& x, const ActivationCapture* capture) const {
    Tensor h = resnet0_.forward(x, Tensor());
    if (capture) capture->image(path_ + ".resnets.0", h);
    h = attention_.forward(h, Tensor(), capture);
    if (capture) capture->image(path_ + ".attentions.0", h);
    h = resnet1_.forward(h, Tensor());
    if (capture) {
      capture->image(path_ + ".resnets.1", h);
      capture->image(path_, h);
    }
    return h;
  }

 private:
  static ResnetBlock2DOptions resnet_options(int64_t channels, int64_t groups, float eps) {
    ResnetBlock2DOptions o;
    o.in_channels = o.out_channels = channels;
    o.groups = groups;
    o.eps = eps;
    return o;
  }
  static AttentionOptions attention_options(int64_t channels, int64_t groups, float eps) {
    AttentionOptions o;
    o.query_dim = channels;
    o.heads = 1;
    o.dim_head = channels;
    o.qkv_bias = true;
    o.norm_groups = groups;
    o.norm_eps = eps;
    o.residual_connection = true;
    return o;
  }

  std::string path_;
  ResnetBlock2D resnet0_;
  Attention attention_;
  ResnetBlock2D resnet1_;
};

}  // namespace diffnorm::models
