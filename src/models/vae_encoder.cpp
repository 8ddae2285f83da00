#include "models/vae_encoder.h"

namespace diffnorm::models {

namespace {
constexpr float kEps = 1e-6f;
}

Encoder::Encoder(const nn::ModulePath& p, const AutoencoderKLConfig& c)
    : path_(p.path()),
      conv_in_(p / "conv_in", c.in_channels, c.block_out_channels[0], 3, ops::Conv2dOptions::symmetric(1)),
      mid_block_(p / "mid_block", c.block_out_channels.back(), c.norm_num_groups, kEps),
      conv_norm_out_(p / "conv_norm_out", c.block_out_channels.back(), c.norm_num_groups, kEps),
      conv_out_(p / "conv_out", c.block_out_channels.back(), 2 * c.latent_channels, 3,
                ops::Conv2dOptions::symmetric(1)) {
  int64_t out = c.block_out_channels[0];
  for (int64_t i = 0; i < c.levels(); ++i) {
    const nn::ModulePath b = p / "down_blocks" / i;
    DownBlock block;
    const int64_t in = out;
    out = c.block_out_channels[i];
    for (int64_t j = 0; j < c.layers_per_block; ++j) {
      ResnetBlock2DOptions r;
      r.in_channels = j == 0 ? in : out;
      r.out_channels = out;
      r.groups = c.norm_num_groups;
      r.eps = kEps;
      block.resnets.emplace_back(b / "resnets" / j, r);
    }
    if (i + 1 < c.levels()) block.downsampler.emplace(b / "downsamplers" / 0, out, 0);
    down_blocks_.push_back(std::move(block));
  }
}

Tensor Encoder::forward(const Tensor& x, const ActivationCapture* capture) const {
  const std::string& p = path_;
  Tensor h = conv_in_.forward(x);
  if (capture) capture->image(p + ".conv_in", h);
  for (std::size_t i = 0; i < down_blocks_.size(); ++i) {
    const std::string b = p + ".down_blocks." + std::to_string(i);
    for (std::size_t j = 0; j < down_blocks_[i].resnets.size(); ++j) {
      h = down_blocks_[i].resnets[j].forward(h, Tensor());
      if (capture) capture->image(b + ".resnets." + std::to_string(j), h);
    }
    if (down_blocks_[i].downsampler) {
      h = down_blocks_[i].downsampler->forward(h);
      if (capture) capture->image(b + ".downsamplers.0", h);
    }
    if (capture) capture->image(b, h);
  }
  h = mid_block_.forward(h, capture);
  h = conv_norm_out_.forward_silu(h, capture, p + ".conv_norm_out");
  h = conv_out_.forward(h);
  if (capture) capture->image(p + ".conv_out", h);
  return h;
}

}  // namespace diffnorm::models
