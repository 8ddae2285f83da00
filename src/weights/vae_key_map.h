// The LDM VAE layout (ldm.modules.diffusionmodules.model Encoder/Decoder) <-> diffusers'
// AutoencoderKL names, derived from the levels and resnets the checkpoint has.
//
//   encoder.down.i.block.j / .downsample.conv <-> encoder.down_blocks.i.resnets.j / .downsamplers.0.conv
//   decoder.up.(L-1-i).block.j / .upsample.conv <-> decoder.up_blocks.i.resnets.j / .upsamplers.0.conv
//                                                    (the decoder's level order is reversed)
//   {en,de}coder.mid.block_1 / block_2 / attn_1 <-> mid_block.resnets.0 / resnets.1 / attentions.0
//   attn_1.norm / q / k / v / proj_out <-> group_norm / to_q / to_k / to_v / to_out.0; the four
//     projections are 1x1 convs [C,C,1,1] in LDM and Linear [C,C] in diffusers (reshaped)
//   norm_out <-> conv_norm_out;  nin_shortcut <-> conv_shortcut;  conv_in, conv_out,
//   quant_conv, post_quant_conv, resnet norm1/conv1/norm2/conv2: same names.
#pragma once

#include <string>

#include "weights/key_map.h"
#include "weights/key_names.h"

namespace diffnorm::weights {

struct LdmVaeLayout {
  int levels = 0;            // encoder down levels (= decoder up levels)
  int layers_per_block = 0;  // encoder resnets per level (decoder: + 1)

  /// The structure of the VAE whose tensor names (prefix removed) are `keys`.
  static LdmVaeLayout infer(const KeyNames& keys);
};

/// Adds the rules of a VAE stored under `prefix` ("first_stage_model.", or "" for a VAE file).
void add_ldm_vae_rules(KeyMap& map, const LdmVaeLayout& layout, const std::string& prefix);

}  // namespace diffnorm::weights
