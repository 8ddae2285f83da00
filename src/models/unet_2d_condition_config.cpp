#include "models/unet_2d_condition_config.h"

namespace diffnorm::models {

UNet2DConditionConfig UNet2DConditionConfig::from(const nn::ConfigReader& c) {
  UNet2DConditionConfig d;
  d.sample_size = c.get_int("sample_size", d.sample_size);
  d.in_channels = c.get_int("in_channels", d.in_channels);
  d.out_channels = c.get_int("out_channels", d.out_channels);
  d.flip_sin_to_cos = c.get_bool("flip_sin_to_cos", d.flip_sin_to_cos);
  d.freq_shift = c.get_double("freq_shift", d.freq_shift);
  d.down_block_types = c.get_string_list("down_block_types", d.down_block_types);
  d.up_block_types = c.get_string_list("up_block_types", d.up_block_types);
  d.block_out_channels = c.get_int_list("block_out_channels", d.block_out_channels);
  d.layers_per_block = c.get_int("layers_per_block", d.layers_per_block);
  d.downsample_padding = c.get_int("downsample_padding", d.downsample_padding);
  d.mid_block_scale_factor = c.get_double("mid_block_scale_factor", d.mid_block_scale_factor);
  d.norm_num_groups = c.get_int("norm_num_groups", d.norm_num_groups);
  d.norm_eps = c.get_double("norm_eps", d.norm_eps);
  d.use_linear_projection = c.get_bool("use_linear_projection", d.use_linear_projection);
  d.upcast_attention = c.get_bool("upcast_attention", d.upcast_attention);
  d.addition_embed_type = c.get_optional_string("addition_embed_type");
  d.addition_time_embed_dim = c.get_int("addition_time_embed_dim", 0);
  d.projection_class_embeddings_input_dim = c.get_int("projection_class_embeddings_input_dim", 0);

  const std::size_t levels = d.block_out_channels.size();
  if (levels == 0) c.fail_key("block_out_channels", "must list at least one level");
  for (int64_t ch : d.block_out_channels)
    if (ch <= 0 || ch % d.norm_num_groups != 0)
      c.fail_key("block_out_channels", "values must be positive multiples of norm_num_groups (" +
                                           std::to_string(d.norm_num_groups) + ")");
  if (d.down_block_types.size() != levels)
    c.fail_key("down_block_types", "must have one entry per block_out_channels level (" + std::to_string(levels) + ")");
  if (d.up_block_types.size() != levels)
    c.fail_key("up_block_types", "must have one entry per block_out_channels level (" + std::to_string(levels) + ")");
  for (const std::string& t : d.down_block_types)
    if (t != "CrossAttnDownBlock2D" && t != "DownBlock2D")
      c.fail_key("down_block_types", "unsupported block type \"" + t + "\" (CrossAttnDownBlock2D, DownBlock2D)");
  for (const std::string& t : d.up_block_types)
    if (t != "CrossAttnUpBlock2D" && t != "UpBlock2D")
      c.fail_key("up_block_types", "unsupported block type \"" + t + "\" (CrossAttnUpBlock2D, UpBlock2D)");
  const std::string mid = c.get_string("mid_block_type", "UNetMidBlock2DCrossAttn");
  if (mid != "UNetMidBlock2DCrossAttn") c.fail_key("mid_block_type", "unsupported \"" + mid + "\"");
  if (c.get_bool("dual_cross_attention", false)) c.fail_key("dual_cross_attention", "is not supported");
  if (c.get_bool("only_cross_attention", false)) c.fail_key("only_cross_attention", "is not supported");
  if (c.has("class_embed_type")) c.fail_key("class_embed_type", "is not supported");
  if (c.has("encoder_hid_dim_type")) c.fail_key("encoder_hid_dim_type", "is not supported");
  if (c.get_string("resnet_time_scale_shift", "default") != "default")
    c.fail_key("resnet_time_scale_shift", "only \"default\" is supported");
  if (c.get_string("time_embedding_type", "positional") != "positional")
    c.fail_key("time_embedding_type", "only \"positional\" is supported");
  if (c.get_int("conv_in_kernel", 3) != 3) c.fail_key("conv_in_kernel", "only 3 is supported");
  if (c.get_int("conv_out_kernel", 3) != 3) c.fail_key("conv_out_kernel", "only 3 is supported");
  // cross_attention_dim may be a per-level list in diffusers; only one width is supported.
  const std::vector<int64_t> cad = c.get_per_level("cross_attention_dim", levels, d.cross_attention_dim);
  for (int64_t v : cad)
    if (v != cad[0] || v <= 0) c.fail_key("cross_attention_dim", "must be one positive width for every level");
  d.cross_attention_dim = cad[0];
  if (c.has("reverse_transformer_layers_per_block"))
    c.fail_key("reverse_transformer_layers_per_block", "is not supported");
  d.transformer_layers_per_block = c.get_per_level("transformer_layers_per_block", levels, 1);
  const char* heads_key = c.has("num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
  d.num_attention_heads = c.get_per_level(heads_key, levels, 8);
  for (std::size_t i = 0; i < levels; ++i)
    if (d.num_attention_heads[i] <= 0 || d.block_out_channels[i] % d.num_attention_heads[i] != 0)
      c.fail_key(heads_key, "level " + std::to_string(i) + ": " + std::to_string(d.num_attention_heads[i]) +
                                " heads do not divide " + std::to_string(d.block_out_channels[i]) + " channels");
  if (d.addition_embed_type) {
    if (*d.addition_embed_type != "text_time")
      c.fail_key("addition_embed_type", "only \"text_time\" (SDXL) is supported, found \"" + *d.addition_embed_type + "\"");
    if (d.addition_time_embed_dim <= 0) c.fail_key("addition_time_embed_dim", "must be positive with text_time");
    if (d.projection_class_embeddings_input_dim <= 0)
      c.fail_key("projection_class_embeddings_input_dim", "must be positive with text_time");
  }
  return d;
}

UNet2DConditionConfig UNet2DConditionConfig::sd15() {
  UNet2DConditionConfig d;
  d.cross_attention_dim = 768;
  d.transformer_layers_per_block = {1, 1, 1, 1};
  d.num_attention_heads = {8, 8, 8, 8};
  return d;
}

UNet2DConditionConfig UNet2DConditionConfig::sd21() {
  UNet2DConditionConfig d;
  d.sample_size = 96;
  d.cross_attention_dim = 1024;
  d.transformer_layers_per_block = {1, 1, 1, 1};
  d.num_attention_heads = {5, 10, 20, 20};
  d.use_linear_projection = true;
  d.upcast_attention = true;
  return d;
}

UNet2DConditionConfig UNet2DConditionConfig::sdxl_base() {
  UNet2DConditionConfig d;
  d.sample_size = 128;
  d.down_block_types = {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"};
  d.up_block_types = {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"};
  d.block_out_channels = {320, 640, 1280};
  d.cross_attention_dim = 2048;
  d.transformer_layers_per_block = {1, 2, 10};
  d.num_attention_heads = {5, 10, 20};
  d.use_linear_projection = true;
  d.addition_embed_type = "text_time";
  d.addition_time_embed_dim = 256;
  d.projection_class_embeddings_input_dim = 2816;
  return d;
}

UNet2DConditionConfig UNet2DConditionConfig::sdxl_refiner() {
  UNet2DConditionConfig d;
  d.sample_size = 128;
  d.down_block_types = {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"};
  d.up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"};
  d.block_out_channels = {384, 768, 1536, 1536};
  d.cross_attention_dim = 1280;
  d.transformer_layers_per_block = {4, 4, 4, 4};
  d.num_attention_heads = {6, 12, 24, 24};
  d.use_linear_projection = true;
  d.addition_embed_type = "text_time";
  d.addition_time_embed_dim = 256;
  d.projection_class_embeddings_input_dim = 2560;
  return d;
}

}  // namespace diffnorm::models
