// The UNet's up blocks (diffusers UpBlock2D and CrossAttnUpBlock2D):
//   for each layer j: h = resnets.j(concat[h, skips.pop()], temb); [h = attentions.j(h, context)]
//   [h = upsamplers.0(h)]
// Resnet j takes (j == 0 ? prev_output : out) + (last j ? in : out) channels.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "models/unet_down_block.h"
#include "models/upsample_2d.h"

namespace diffnorm::models {

class UNetUpBlock {
 public:
  UNetUpBlock(const nn::ModulePath& p, const UNetBlockOptions& o);
  Tensor forward(const Tensor& x, const Tensor& temb_act, const Tensor& context, std::vector<Tensor>& skips,
                 const ActivationCapture* capture) const;

 private:
  std::string path_;
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
  std::optional<Upsample2D> upsampler_;
};

}  // namespace diffnorm::models
