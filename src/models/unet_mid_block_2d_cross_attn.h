// UNetMidBlock2DCrossAttn (diffusers): h = resnets.0(x); h = attentions.0(h, context);
// h = resnets.1(h).
#pragma once

#include <string>

#include "models/resnet_block_2d.h"
#include "models/transformer_2d_model.h"

namespace diffnorm::models {

class UNetMidBlock2DCrossAttn {
 public:
  UNetMidBlock2DCrossAttn(const nn::ModulePath& p, const ResnetBlock2DOptions& resnet,
                          const Transformer2DOptions& transformer)
      : path_(p.path()),
        resnet0_(p / "resnets" / 0, resnet),
        attention_(p / "attentions" / 0, transformer),
        resnet1_(p / "resnets" / 1, resnet) {}

  Tensor forward(const Tensor& x, const Tensor& temb_act, const Tensor& context, const ActivationCapture* capture) const {
    Tensor h = resnet0_.forward(x, temb_act);
    if (capture) capture->image(path_ + ".resnets.0", h);
    h = attention_.forward(h, context, capture);
    h = resnet1_.forward(h, temb_act);
    if (capture) {
      capture->image(path_ + ".resnets.1", h);
      capture->image(path_, h);
    }
    return h;
  }

 private:
  std::string path_;
  ResnetBlock2D resnet0_;
  Transformer2DModel attention_;
  ResnetBlock2D resnet1_;
};

}  // namespace diffnorm::models
