#include "models/resnet_block_2d.h"

#include "ops/elementwise_add.h"


namespace diffnorm::models {

ResnetBlock2D::ResnetBlock2D(const nn::ModulePath& p, const ResnetBlock2DOptions& o)
    : o_(o),
      norm1_(p / "norm1", o.in_channels, o.groups, o.eps),
      norm2_(p / "norm2", o.out_channels, o.groups, o.eps),
      conv1_(p / "conv1", o.in_channels, o.out_channels, 3, ops::Conv2dOptions::symmetric(1)),
      conv2_(p / "conv2", o.out_channels, o.out_channels, 3, ops::Conv2dOptions::symmetric(1)) {
  if (o.temb_channels > 0) time_emb_proj_.emplace(p / "time_emb_proj", o.temb_channels, o.out_channels);
  if (o.in_channels != o.out_channels)
    conv_shortcut_.emplace(p / "conv_shortcut", o.in_channels, o.out_channels, 1, ops::Conv2dOptions::symmetric(0));
}

Tensor ResnetBlock2D::forward(const Tensor& x, const Tensor& temb_act) const {
  Tensor h = conv1_.forward(norm1_.forward(x, Activation::SiLU));
  if (time_emb_proj_) ops::add_broadcast_inplace(h, time_emb_proj_->forward(temb_act));
  h = norm2_.forward(h, Activation::SiLU);
  // y = shortcut(x) + conv2(h): conv2 accumulates into the shortcut (a fused residual add).
  Tensor y = conv_shortcut_ ? conv_shortcut_->forward(x) : x.clone();
  conv2_.forward_accumulate(h, y);
  if (o_.output_scale_factor != 1.0f) {
    float* p = y.data<float>();
    for (int64_t i = 0; i < y.numel(); ++i) p[i] /= o_.output_scale_factor;
  }
  return y;
}

}  // namespace diffnorm::models
