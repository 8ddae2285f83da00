#include "models/autoencoder_kl_config.h"

namespace diffnorm::models {

AutoencoderKLConfig AutoencoderKLConfig::from(const nn::ConfigReader& c) {
  AutoencoderKLConfig d;
  d.in_channels = c.get_int("in_channels", d.in_channels);
  d.out_channels = c.get_int("out_channels", d.out_channels);
  d.latent_channels = c.get_int("latent_channels", d.latent_channels);
  d.block_out_channels = c.get_int_list("block_out_channels", d.block_out_channels);
  d.layers_per_block = c.get_int("layers_per_block", d.layers_per_block);
  d.norm_num_groups = c.get_int("norm_num_groups", d.norm_num_groups);
  d.sample_size = c.get_int("sample_size", d.sample_size);
  d.scaling_factor = c.get_double("scaling_factor", d.scaling_factor);

  const std::size_t levels = d.block_out_channels.size();
  if (levels == 0) c.fail_key("block_out_channels", "must list at least one level");
  for (int64_t ch : d.block_out_channels)
    if (ch <= 0 || d.norm_num_groups <= 0 || ch % d.norm_num_groups != 0)
      c.fail_key("block_out_channels", "values must be positive multiples of norm_num_groups (" +
                                           std::to_string(d.norm_num_groups) + ")");
  for (const char* key : {"in_channels", "out_channels", "latent_channels", "layers_per_block"})
    if (c.get_int(key, 1) <= 0) c.fail_key(key, "must be positive");
  for (const std::string& t : c.get_string_list("down_block_types", {}))
    if (t != "DownEncoderBlock2D") c.fail_key("down_block_types", "unsupported block type \"" + t + "\"");
  for (const std::string& t : c.get_string_list("up_block_types", {}))
    if (t != "UpDecoderBlock2D") c.fail_key("up_block_types", "unsupported block type \"" + t + "\"");
  if (c.get_string_list("down_block_types", std::vector<std::string>(levels)).size() != levels)
    c.fail_key("down_block_types", "must have one entry per block_out_channels level");
  if (c.get_string_list("up_block_types", std::vector<std::string>(levels)).size() != levels)
    c.fail_key("up_block_types", "must have one entry per block_out_channels level");
  if (c.get_string("act_fn", "silu") != "silu") c.fail_key("act_fn", "only \"silu\" is supported");
  if (!c.get_bool("mid_block_add_attention", true)) c.fail_key("mid_block_add_attention", "false is not supported");
  return d;
}

AutoencoderKLConfig AutoencoderKLConfig::sd() {
  AutoencoderKLConfig d;
  d.block_out_channels = {128, 256, 512, 512};
  d.layers_per_block = 2;
  d.sample_size = 512;
  return d;
}

AutoencoderKLConfig AutoencoderKLConfig::sdxl() {
  AutoencoderKLConfig d = sd();
  d.sample_size = 1024;
  d.scaling_factor = 0.13025;
  return d;
}

}  // namespace diffnorm::models
