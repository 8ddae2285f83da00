// UNet2DConditionModel (diffusers 0.23), activations NHWC inside:
//   emb = time_embedding(sinusoid(t))  [+ add_embedding([text_embeds | sinusoid(time_ids)])]
//   h = conv_in(x); skips = [h]
//   h = down_blocks(h)   (pushing skips);   h = mid_block(h)
//   h = up_blocks(h)     (popping skips);   y = conv_out(SiLU(conv_norm_out(h)))
// Every resnet receives SiLU(emb); every transformer the context (encoder_hidden_states).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "models/activation_capture.h"
#include "models/timestep_embedding.h"
#include "models/unet_2d_condition_config.h"
#include "models/unet_down_block.h"
#include "models/unet_mid_block_2d_cross_attn.h"
#include "models/unet_up_block.h"
#include "nn/weight_source.h"

namespace diffnorm::models {

/// SDXL's added conditions (addition_embed_type "text_time").
struct UNetAddedCond {
  Tensor text_embeds;  // [B, pooled_dim] (pooled CLIP-G projection)
  Tensor time_ids;     // [B, n_ids]: base (orig h, w, crop top, left, target h, w); refiner
                       // (orig h, w, crop top, left, aesthetic score)
};

class UNet2DConditionModel {
 public:
  /// Binds every weight of `config` from `weights` (which must hold nothing else).
  UNet2DConditionModel(nn::WeightSource& weights, const UNet2DConditionConfig& config);
  /// Opens a component folder (config.json + diffusion_pytorch_model.safetensors).
  static UNet2DConditionModel load(const std::string& dir);

  /// sample NHWC [B, H, W, in_channels]; timestep [B] (or [1], broadcast); context
  /// [B, S, cross_attention_dim]. Returns NHWC [B, H, W, out_channels]. H and W need not be
  /// multiples of the downsampling factor (upsamplers then match the skips' sizes).
  Tensor forward(const Tensor& sample, const Tensor& timestep, const Tensor& context, const UNetAddedCond& added = {},
                 const ActivationCapture* capture = nullptr) const;
  const UNet2DConditionConfig& config() const { return config_; }

 private:
  Tensor embedding(int64_t batch, const Tensor& timestep, const UNetAddedCond& added,
                   const ActivationCapture* capture) const;

  UNet2DConditionConfig config_;
  TimestepEmbedding time_embedding_;
  std::optional<TimestepEmbedding> add_embedding_;
  Conv2d conv_in_;
  std::vector<UNetDownBlock> down_blocks_;
  std::optional<UNetMidBlock2DCrossAttn> mid_block_;
  std::vector<UNetUpBlock> up_blocks_;
  GroupNorm conv_norm_out_;
  Conv2d conv_out_;
};

}  // namespace diffnorm::models
