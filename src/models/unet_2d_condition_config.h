// UNet2DConditionConfig: diffusers' UNet2DConditionModel config.json, the subset SD1.x,
// SD2.x, SDXL base and SDXL refiner use. Defaults are diffusers' (0.23) for absent keys.
// Per-level lists have one entry per down block (up blocks use them reversed, the mid block
// the last entry).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nn/config_reader.h"

namespace diffnorm::models {

struct UNet2DConditionConfig {
  int64_t sample_size = 64;   // latent size the model was trained at (informational)
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  bool flip_sin_to_cos = true;  // time sinusoid as [cos | sin]
  double freq_shift = 0;        // sinusoid frequency denominator is half - freq_shift
  std::vector<std::string> down_block_types = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                               "CrossAttnDownBlock2D", "DownBlock2D"};
  std::vector<std::string> up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                             "CrossAttnUpBlock2D"};
  std::vector<int64_t> block_out_channels = {320, 640, 1280, 1280};
  int64_t layers_per_block = 2;           // resnets per down block (up blocks: + 1)
  int64_t downsample_padding = 1;
  double mid_block_scale_factor = 1.0;    // mid-block resnets' output_scale_factor
  int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;                 // ResnetBlock2D and conv_norm_out GroupNorm eps
  int64_t cross_attention_dim = 1280;     // context width (one value for every level)
  std::vector<int64_t> transformer_layers_per_block;  // per level; key: int or list, default 1
  // Heads per level. diffusers' "attention_head_dim" is (historically) the NUMBER OF HEADS;
  // "num_attention_heads", when present, overrides it. Key default: 8.
  std::vector<int64_t> num_attention_heads;
  bool use_linear_projection = false;     // Transformer2D proj_in/out: Linear (true) or 1x1 conv
  bool upcast_attention = false;          // fp16 softmax upcast: a no-op in fp32
  // "text_time" (SDXL): emb += add_embedding([text_embeds | sinusoid(time_ids)]); null: none.
  std::optional<std::string> addition_embed_type;
  int64_t addition_time_embed_dim = 0;                // sinusoid width per time id
  int64_t projection_class_embeddings_input_dim = 0;  // add_embedding input width

  static UNet2DConditionConfig from(const nn::ConfigReader& config);
  int64_t levels() const { return int64_t(block_out_channels.size()); }
  int64_t time_embed_dim() const { return 4 * block_out_channels[0]; }

  /// Presets (the published configs).
  static UNet2DConditionConfig sd15();
  static UNet2DConditionConfig sd21();
  static UNet2DConditionConfig sdxl_base();
  static UNet2DConditionConfig sdxl_refiner();
};

}  // namespace diffnorm::models
