// The LDM/SGM UNet layout (openaimodel.UNetModel: input_blocks / middle_block /
// output_blocks) <-> diffusers' UNet2DConditionModel names, derived from the structure the
// checkpoint itself has, as diffusers' convert_ldm_unet_checkpoint derives it from the
// config: any number of levels, resnets per level and attention levels.
//
//   input_blocks.0.0                  <-> conv_in
//   input_blocks.{(lpb+1)i+j+1}.0/.1  <-> down_blocks.i.resnets.j / attentions.j
//   input_blocks.{(lpb+1)(i+1)}.0.op  <-> down_blocks.i.downsamplers.0.conv
//   middle_block.0/1/2                <-> mid_block.resnets.0 / attentions.0 / resnets.1
//   output_blocks.{(lpb+1)i+j}.0/.1   <-> up_blocks.i.resnets.j / attentions.j   (j <= lpb)
//   output_blocks.{(lpb+1)i+lpb}.{1|2}.conv <-> up_blocks.i.upsamplers.0.conv (.2 after an attention)
//   time_embed.0/2 <-> time_embedding.linear_1/2;  label_emb.0.0/2 <-> add_embedding.linear_1/2 (SDXL)
//   out.0/2 <-> conv_norm_out / conv_out
// Resnet internals: in_layers.0/2, emb_layers.1, out_layers.0/3, skip_connection <->
// norm1, conv1, time_emb_proj, norm2, conv2, conv_shortcut. Transformer internals are the
// same in both layouts.
#pragma once

#include <string>
#include <vector>

#include "weights/key_map.h"
#include "weights/key_names.h"

namespace diffnorm::weights {

struct LdmUNetLayout {
  int levels = 0;            // down blocks (= downsamplers + 1)
  int layers_per_block = 0;  // resnets per down block (up blocks: + 1)
  std::vector<bool> attention;  // per down level: resnets are followed by a SpatialTransformer
  bool label_emb = false;       // SDXL's added (text_time) conditioning

  /// The structure of the UNet whose tensor names (prefix removed) are `keys`.
  static LdmUNetLayout infer(const KeyNames& keys);
  /// Index of the input block of resnet j of level i.
  int input_block(int level, int j) const { return (layers_per_block + 1) * level + j + 1; }
  /// Index of the output block of resnet j of up level i.
  int output_block(int up_level, int j) const { return (layers_per_block + 1) * up_level + j; }
};

/// Adds the rules of a UNet stored under `prefix` ("model.diffusion_model.").
void add_ldm_unet_rules(KeyMap& map, const LdmUNetLayout& layout, const std::string& prefix);

}  // namespace diffnorm::weights
