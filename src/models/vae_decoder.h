// The VAE Decoder (diffusers Decoder, weights "decoder.*"), NHWC:
//   h = conv_in(z); mid_block; up_blocks.i over the levels reversed: layers_per_block + 1
//   resnets (+ nearest ×2 upsampler except on the last); conv_out(SiLU(conv_norm_out(h))).
//   GroupNorm eps 1e-6 throughout.
#pragma once

#include <optional>
#include <vector>

#include "models/autoencoder_kl_config.h"
#include "models/unet_mid_block_2d.h"
#include "models/upsample_2d.h"

namespace diffnorm::models {

class Decoder {
 public:
  Decoder(const nn::ModulePath& p, const AutoencoderKLConfig& config);
  Tensor forward(const Tensor& z, const ActivationCapture* capture) const;

 private:
  struct UpBlock {
    std::vector<ResnetBlock2D> resnets;
    std::optional<Upsample2D> upsampler;
  };
  std::string path_;
  Conv2d conv_in_;
  UNetMidBlock2D mid_block_;
  std::vector<UpBlock> up_blocks_;
  GroupNorm conv_norm_out_;
  Conv2d conv_out_;
};

}  // namespace diffnorm::models
