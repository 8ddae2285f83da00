#include "weights/vae_key_map.h"

#include <fmt/format.h>

#include "core/check.h"

namespace diffnorm::weights {

namespace {

constexpr std::pair<const char*, const char*> kResnet[] = {
    {"norm1.", "norm1."}, {"conv1.", "conv1."}, {"norm2.", "norm2."},
    {"conv2.", "conv2."}, {"nin_shortcut.", "conv_shortcut."},
};

struct AttentionRule {
  const char* original;
  const char* diffusers;
  Transform transform;
};
constexpr AttentionRule kAttention[] = {
    {"norm.", "group_norm.", Transform::Copy},
    {"q.weight", "to_q.weight", Transform::Conv1x1ToLinear},
    {"q.bias", "to_q.bias", Transform::Copy},
    {"k.weight", "to_k.weight", Transform::Conv1x1ToLinear},
    {"k.bias", "to_k.bias", Transform::Copy},
    {"v.weight", "to_v.weight", Transform::Conv1x1ToLinear},
    {"v.bias", "to_v.bias", Transform::Copy},
    {"proj_out.weight", "to_out.0.weight", Transform::Conv1x1ToLinear},
    {"proj_out.bias", "to_out.0.bias", Transform::Copy},
};

constexpr std::pair<const char*, const char*> kOuter[] = {
    {"encoder.conv_in.", "encoder.conv_in."},   {"encoder.norm_out.", "encoder.conv_norm_out."},
    {"encoder.conv_out.", "encoder.conv_out."}, {"decoder.conv_in.", "decoder.conv_in."},
    {"decoder.norm_out.", "decoder.conv_norm_out."}, {"decoder.conv_out.", "decoder.conv_out."},
    {"quant_conv.", "quant_conv."},             {"post_quant_conv.", "post_quant_conv."},
};

void add_resnet(KeyMap& map, const std::string& original, const std::string& diffusers) {
  for (const auto& [o, d] : kResnet) map.add(original + o, diffusers + d);
}

void add_mid(KeyMap& map, const std::string& original, const std::string& diffusers) {
  add_resnet(map, original + "block_1.", diffusers + "resnets.0.");
  add_resnet(map, original + "block_2.", diffusers + "resnets.1.");
  for (const AttentionRule& r : kAttention)
    map.add(original + "attn_1." + r.original, diffusers + "attentions.0." + r.diffusers, r.transform);
}

}  // namespace

LdmVaeLayout LdmVaeLayout::infer(const KeyNames& keys) {
  LdmVaeLayout l;
  l.levels = keys.count("encoder.down.");
  l.layers_per_block = keys.count("encoder.down.0.block.");
  DN_CHECK(l.levels > 0 && l.layers_per_block > 0, "VAE checkpoint: no encoder.down.0.block.0 tensors");
  return l;
}

void add_ldm_vae_rules(KeyMap& map, const LdmVaeLayout& l, const std::string& p) {
  for (const auto& [o, d] : kOuter) map.add(p + o, d);
  for (int i = 0; i < l.levels; ++i) {
    for (int j = 0; j < l.layers_per_block; ++j)
      add_resnet(map, fmt::format("{}encoder.down.{}.block.{}.", p, i, j), fmt::format("encoder.down_blocks.{}.resnets.{}.", i, j));
    if (i + 1 < l.levels)
      map.add(fmt::format("{}encoder.down.{}.downsample.conv.", p, i), fmt::format("encoder.down_blocks.{}.downsamplers.0.conv.", i));
  }
  for (int i = 0; i < l.levels; ++i) {
    const int ldm = l.levels - 1 - i;
    for (int j = 0; j <= l.layers_per_block; ++j)
      add_resnet(map, fmt::format("{}decoder.up.{}.block.{}.", p, ldm, j), fmt::format("decoder.up_blocks.{}.resnets.{}.", i, j));
    if (i + 1 < l.levels)
      map.add(fmt::format("{}decoder.up.{}.upsample.conv.", p, ldm), fmt::format("decoder.up_blocks.{}.upsamplers.0.conv.", i));
  }
  add_mid(map, p + "encoder.mid.", "encoder.mid_block.");
  add_mid(map, p + "decoder.mid.", "decoder.mid_block.");
}

}  // namespace diffnorm::weights
