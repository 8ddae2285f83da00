// The VAE Encoder (diffusers Encoder, weights "encoder.*"), NHWC:
//   h = conv_in(x); down_blocks.i: layers_per_block resnets (+ asymmetric-pad stride-2
//   downsampler except on the last level); mid_block; conv_out(SiLU(conv_norm_out(h)))
//   -> [N, h, w, 2·latent] (mean | logvar). GroupNorm eps 1e-6 throughout.
#pragma once

#include <optional>
#include <vector>

#include "models/autoencoder_kl_config.h"
#include "models/downsample_2d.h"
#include "models/unet_mid_block_2d.h"

namespace diffnorm::models {

class Encoder {
 public:
  Encoder(const nn::ModulePath& p, const AutoencoderKLConfig& config);
  Tensor forward(const Tensor& x, const ActivationCapture* capture) const;

 private:
  struct DownBlock {
    std::vector<ResnetBlock2D> resnets;
    std::optional<Downsample2D> downsampler;
  };
  std::string path_;
  Conv2d conv_in_;
  std::vector<DownBlock> down_blocks_;
  UNetMidBlock2D mid_block_;
  GroupNorm conv_norm_out_;
  Conv2d conv_out_;
};

}  // namespace diffnorm::models
