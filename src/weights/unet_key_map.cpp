#include "weights/unet_key_map.h"

#include <fmt/format.h>

#include "core/check.h"

namespace diffnorm::weights {

namespace {

// ResBlock (LDM) <-> ResnetBlock2D (diffusers), inside one block.
constexpr std::pair<const char*, const char*> kResnet[] = {
    {"in_layers.0.", "norm1."},  {"in_layers.2.", "conv1."},  {"emb_layers.1.", "time_emb_proj."},
    {"out_layers.0.", "norm2."}, {"out_layers.3.", "conv2."}, {"skip_connection.", "conv_shortcut."},
};

// Tensors outside the blocks.
constexpr std::pair<const char*, const char*> kOuter[] = {
    {"time_embed.0.", "time_embedding.linear_1."}, {"time_embed.2.", "time_embedding.linear_2."},
    {"input_blocks.0.0.", "conv_in."},             {"out.0.", "conv_norm_out."},
    {"out.2.", "conv_out."},
};
constexpr std::pair<const char*, const char*> kLabelEmb[] = {
    {"label_emb.0.0.", "add_embedding.linear_1."}, {"label_emb.0.2.", "add_embedding.linear_2."},
};

void add_resnet(KeyMap& map, const std::string& original, const std::string& diffusers) {
  for (const auto& [o, d] : kResnet) map.add(original + o, diffusers + d);
}

}  // namespace

LdmUNetLayout LdmUNetLayout::infer(const KeyNames& keys) {
  LdmUNetLayout l;
  const int inputs = keys.count("input_blocks.");
  int downsamplers = 0;
  for (int n = 0; n < inputs; ++n) downsamplers += keys.any(fmt::format("input_blocks.{}.0.op.", n));
  l.levels = downsamplers + 1;
  const int resnets = inputs - 1 - downsamplers;  // input_blocks.0 is conv_in
  DN_CHECK(inputs > 1 && resnets % l.levels == 0,
           "UNet checkpoint: {} input_blocks with {} downsamplers do not form levels of equal depth", inputs,
           downsamplers);
  l.layers_per_block = resnets / l.levels;
  for (int i = 0; i < l.levels; ++i) l.attention.push_back(keys.any(fmt::format("input_blocks.{}.1.", l.input_block(i, 0))));
  l.label_emb = keys.any("label_emb.0.");
  return l;
}

void add_ldm_unet_rules(KeyMap& map, const LdmUNetLayout& l, const std::string& p) {
  for (const auto& [o, d] : kOuter) map.add(p + o, d);
  if (l.label_emb)
    for (const auto& [o, d] : kLabelEmb) map.add(p + o, d);

  for (int i = 0; i < l.levels; ++i) {
    for (int j = 0; j < l.layers_per_block; ++j) {
      const std::string in = fmt::format("{}input_blocks.{}.", p, l.input_block(i, j));
      add_resnet(map, in + "0.", fmt::format("down_blocks.{}.resnets.{}.", i, j));
      if (l.attention[i]) map.add(in + "1.", fmt::format("down_blocks.{}.attentions.{}.", i, j));
    }
    if (i + 1 < l.levels)
      map.add(fmt::format("{}input_blocks.{}.0.op.", p, l.input_block(i + 1, -1)),
              fmt::format("down_blocks.{}.downsamplers.0.conv.", i));
  }

  add_resnet(map, p + "middle_block.0.", "mid_block.resnets.0.");
  map.add(p + "middle_block.1.", "mid_block.attentions.0.");
  add_resnet(map, p + "middle_block.2.", "mid_block.resnets.1.");

  for (int i = 0; i < l.levels; ++i) {
    const bool attention = l.attention[l.levels - 1 - i];  // up level i mirrors down level L-1-i
    for (int j = 0; j <= l.layers_per_block; ++j) {
      const std::string out = fmt::format("{}output_blocks.{}.", p, l.output_block(i, j));
      add_resnet(map, out + "0.", fmt::format("up_blocks.{}.resnets.{}.", i, j));
      if (attention) map.add(out + "1.", fmt::format("up_blocks.{}.attentions.{}.", i, j));
    }
    if (i + 1 < l.levels)
      map.add(fmt::format("{}output_blocks.{}.{}.conv.", p, l.output_block(i, l.layers_per_block), attention ? 2 : 1),
              fmt::format("up_blocks.{}.upsamplers.0.conv.", i));
  }
}

}  // namespace diffnorm::weights
