// The UNet's down blocks (diffusers DownBlock2D and CrossAttnDownBlock2D):
//   for each layer j: h = resnets.j(h, temb); [h = attentions.j(h, context)]; push h as a skip
//   [h = downsamplers.0(h); push h]
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "models/downsample_2d.h"
#include "models/resnet_block_2d.h"
#include "models/transformer_2d_model.h"

namespace diffnorm::models {

struct UNetBlockOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t prev_output_channels = 0;  // up blocks: channels of the incoming hidden state
  int64_t temb_channels = 0;
  int64_t layers = 2;                // resnets in this block
  bool cross_attention = false;      // CrossAttn*Block2D
  Transformer2DOptions transformer;  // channels are set by the block
  int64_t groups = 32;
  float eps = 1e-5f;
  bool resample = false;             // add a downsampler / upsampler
  int64_t downsample_padding = 1;
};

class UNetDownBlock {
 public:
  UNetDownBlock(const nn::ModulePath& p, const UNetBlockOptions& o);
  Tensor forward(const Tensor& x, const Tensor& temb_act, const Tensor& context, std::vector<Tensor>& skips,
                 const ActivationCapture* capture) const;

 private:
  std::string path_;
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
  std::optional<Downsample2D> downsampler_;
};

}  // namespace diffnorm::models
