#include "models/vae_decoder.h"

namespace diffnorm::models {

namespace {
constexpr float kEps = 1e-6f;
}

Decoder::Decoder(const nn::ModulePath& p, const AutoencoderKLConfig& c)
    : path_(p.path()),
      conv_in_(p / "conv_in", c.latent_channels, c.block_out_channels.back(), 3, ops::Conv2dOptions::symmetric(1)),
      mid_block_(p / "mid_block", c.block_out_channels.back(), c.norm_num_groups, kEps),
      conv_norm_out_(p / "conv_norm_out", c.block_out_channels[0], c.norm_num_groups, kEps),
      conv_out_(p / "conv_out", c.block_out_channels[0], c.out_channels, 3, ops::Conv2dOptions::symmetric(1)) {
  int64_t out = c.block_out_channels.back();
  for (int64_t i = 0; i < c.levels(); ++i) {
    const nn::ModulePath b = p / "up_blocks" / i;
    UpBlock block;
    const int64_t prev = out;
    out = c.block_out_channels[c.levels() - 1 - i];
    for (int64_t j = 0; j < c.layers_per_block + 1; ++j) {
      ResnetBlock2DOptions r;
      r.in_channels = j == 0 ? prev : out;
      r.out_channels = out;
      r.groups = c.norm_num_groups;
      r.eps = kEps;
      block.resnets.emplace_back(b / "resnets" / j, r);
    }
    if (i + 1 < c.levels()) block.upsampler.emplace(b / "upsamplers" / 0, out);
    up_blocks_.push_back(std::move(block));
  }
}

Tensor Decoder::forward(const Tensor& z, const ActivationCapture* capture) const {
  const std::string& p = path_;
  Tensor h = conv_in_.forward(z);
  if (capture) capture->image(p + ".conv_in", h);
  h = mid_block_.forward(h, capture);
  for (std::size_t i = 0; i < up_blocks_.size(); ++i) {
    const std::string b = p + ".up_blocks." + std::to_string(i);
    for (std::size_t j = 0; j < up_blocks_[i].resnets.size(); ++j) {
      h = up_blocks_[i].resnets[j].forward(h, Tensor());
      if (capture) capture->image(b + ".resnets." + std::to_string(j), h);
    }
    if (up_blocks_[i].upsampler) {
      h = up_blocks_[i].upsampler->forward(h);
      if (capture) capture->image(b + ".upsamplers.0", h);
    }
    if (capture) capture->image(b, h);
  }
  h = conv_norm_out_.forward_silu(h, capture, p + ".conv_norm_out");
  h = conv_out_.forward(h);
  if (capture) capture->image(p + ".conv_out", h);
  return h;
}

}  // namespace diffnorm::models
