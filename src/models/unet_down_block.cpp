#include "models/unet_down_block.h"

namespace diffnorm::models {

UNetDownBlock::UNetDownBlock(const nn::ModulePath& p, const UNetBlockOptions& o) : path_(p.path()) {
  for (int64_t j = 0; j < o.layers; ++j) {
    ResnetBlock2DOptions r;
    r.in_channels = j == 0 ? o.in_channels : o.out_channels;
    r.out_channels = o.out_channels;
    r.temb_channels = o.temb_channels;
    r.groups = o.groups;
    r.eps = o.eps;
    resnets_.emplace_back(p / "resnets" / j, r);
    if (o.cross_attention) {
      Transformer2DOptions t = o.transformer;
      t.channels = o.out_channels;
      attentions_.emplace_back(p / "attentions" / j, t);
    }
  }
  if (o.resample) downsampler_.emplace(p / "downsamplers" / 0, o.out_channels, o.downsample_padding);
}

Tensor UNetDownBlock::forward(const Tensor& x, const Tensor& temb_act, const Tensor& context,
                              std::vector<Tensor>& skips, const ActivationCapture* capture) const {
  Tensor h = x;
  for (std::size_t j = 0; j < resnets_.size(); ++j) {
    h = resnets_[j].forward(h, temb_act);
    if (capture) capture->image(path_ + ".resnets." + std::to_string(j), h);
    if (!attentions_.empty()) h = attentions_[j].forward(h, context, capture);
    skips.push_back(h);
  }
  if (downsampler_) {
    h = downsampler_->forward(h);
    if (capture) capture->image(path_ + ".downsamplers.0", h);
    skips.push_back(h);
  }
  if (capture) capture->image(path_, h);
  return h;
}

}  // namespace diffnorm::models
