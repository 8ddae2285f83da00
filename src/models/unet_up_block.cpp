#include "models/unet_up_block.h"

#include "core/check.h"
#include "ops/concat_channels.h"

namespace diffnorm::models {

UNetUpBlock::UNetUpBlock(const nn::ModulePath& p, const UNetBlockOptions& o) : path_(p.path()) {
  for (int64_t j = 0; j < o.layers; ++j) {
    ResnetBlock2DOptions r;
    const int64_t skip_channels = j == o.layers - 1 ? o.in_channels : o.out_channels;
    r.in_channels = (j == 0 ? o.prev_output_channels : o.out_channels) + skip_channels;
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
  if (o.resample) upsampler_.emplace(p / "upsamplers" / 0, o.out_channels);
}

Tensor UNetUpBlock::forward(const Tensor& x, const Tensor& temb_act, const Tensor& context, std::vector<Tensor>& skips,
                            const ActivationCapture* capture) const {
  Tensor h = x;
  for (std::size_t j = 0; j < resnets_.size(); ++j) {
    DN_CHECK(!skips.empty(), "{}: no skip connection left for resnet {}", path_, j);
    const Tensor skip = std::move(skips.back());
    skips.pop_back();
    h = resnets_[j].forward(ops::concat_channels(h, skip), temb_act);
    if (capture) capture->image(path_ + ".resnets." + std::to_string(j), h);
    if (!attentions_.empty()) h = attentions_[j].forward(h, context, capture);
  }
  if (upsampler_) {
    // To the size of the next skip: they differ from 2x when a size was odd on the way down.
    h = skips.empty() ? upsampler_->forward(h) : upsampler_->forward(h, skips.back().size(1), skips.back().size(2));
    if (capture) capture->image(path_ + ".upsamplers.0", h);
  }
  if (capture) capture->image(path_, h);
  return h;
}

}  // namespace diffnorm::models
