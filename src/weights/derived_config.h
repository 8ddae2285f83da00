// The diffusers config.json of a single-file checkpoint's component, which the file does
// not carry: the preset of its family (model_presets) with every value the tensors
// determine replaced by what they say.
//
// Taken from the tensors: UNet in/out channels, block_out_channels, layers_per_block,
// which levels have attention (block types), transformer depth per level, cross-attention
// width, linear vs conv projections, the text_time added-embedding widths; VAE channels and
// widths; CLIP vocabulary, width, depth, MLP width, positions, projection width.
// Not in the tensors, so from the preset: GroupNorm groups, norm eps, activations, VAE
// scaling factor, sample sizes, CLIP eos id, and the attention heads, which keep the
// preset's rule: a fixed number of heads (SD1.5: 8) or a fixed head size (SD2.x / SDXL
// UNets and every CLIP: 64), rescaled to the derived widths. A model whose widths do not
// fit its preset's rule (the tiny test pipelines) needs its diffusers configs instead.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "diffnorm/safetensors.h"
#include "weights/checkpoint_layout.h"

namespace diffnorm::weights {

/// The config of components[index] of a checkpoint mapped by map_checkpoint_keys (the
/// other components are consulted for cross-component widths, e.g. SDXL's pooled width).
nlohmann::json derive_component_config(const CheckpointSpec& spec, const std::vector<ComponentKeys>& components,
                                       std::size_t index, const SafeTensorsFile& file);

}  // namespace diffnorm::weights
