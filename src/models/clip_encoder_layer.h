// One pre-LN CLIP transformer layer (transformers CLIPEncoderLayer):
//   h = x + out_proj(causal_attention(layer_norm1(x)))      (q scaled by head_dim^-0.5)
//   y = h + fc2(act(fc1(layer_norm2(h))))                     (act = quick_gelu or gelu)
#pragma once

#include <string>

#include "models/activation_capture.h"
#include "models/clip_text_config.h"
#include "models/layer_norm.h"
#include "models/linear.h"

namespace diffnorm::models {

class CLIPEncoderLayer {
 public:
  CLIPEncoderLayer(const nn::ModulePath& p, const CLIPTextConfig& config);
  /// x [B, T, D] -> [B, T, D]
  Tensor forward(const Tensor& x, const ActivationCapture* capture) const;

 private:
  std::string path_;
  int64_t heads_;
  bool gelu_;  // exact GELU (OpenCLIP) rather than quick_gelu (OpenAI CLIP)
  LayerNorm layer_norm1_, layer_norm2_;
  Linear q_proj_, k_proj_, v_proj_, out_proj_, fc1_, fc2_;
};

}  // namespace diffnorm::models
