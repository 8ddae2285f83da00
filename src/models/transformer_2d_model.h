// Transformer2DModel (diffusers, continuous input), x NHWC [B, H, W, C]:
//   h = norm(x)                       GroupNorm(groups, eps 1e-6)
//   h = proj_in(h)                    1x1 conv before flattening (use_linear_projection =
//                                     false, SD1.x) or Linear after it (SD2.x / SDXL)
//   h = transformer_blocks(h)         on tokens [B, HW, C] (NHWC flattening: token = y·W + x)
//   y = proj_out(h) + x               (1x1 conv or Linear, mirroring proj_in)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "models/basic_transformer_block.h"
#include "models/conv2d.h"

namespace diffnorm::models {

struct Transformer2DOptions {
  int64_t channels = 0;
  int64_t heads = 1;
  int64_t layers = 1;
  int64_t cross_attention_dim = 0;
  int64_t groups = 32;
  bool use_linear_projection = false;
};

class Transformer2DModel {
 public:
  Transformer2DModel(const nn::ModulePath& p, const Transformer2DOptions& o);
  /// x [B, H, W, C], context [B, S, cross_attention_dim].
  Tensor forward(const Tensor& x, const Tensor& context, const ActivationCapture* capture) const;

 private:
  std::string path_;
  Transformer2DOptions o_;
  GroupNorm norm_;
  std::optional<Conv2d> proj_in_conv_, proj_out_conv_;
  std::optional<Linear> proj_in_linear_, proj_out_linear_;
  std::vector<BasicTransformerBlock> blocks_;
};

}  // namespace diffnorm::models
