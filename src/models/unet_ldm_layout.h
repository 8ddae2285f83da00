// The original LDM/SGM block structure (input_blocks / middle_block / output_blocks) of a
// diffusers UNet config: the inverse of how a single file's layout gives its config, used
// to find the original names of a UNet's modules (SDXL kohya LoRAs name them that way).
#pragma once

#include "models/unet_2d_condition_config.h"
#include "weights/unet_key_map.h"

namespace diffnorm::models {

/// Levels and resnets per level from block_out_channels / layers_per_block, attention per
/// level from the down block types ("CrossAttn..."), label_emb from addition_embed_type.
weights::LdmUNetLayout ldm_unet_layout(const UNet2DConditionConfig& config);

}  // namespace diffnorm::models
