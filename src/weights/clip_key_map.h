// Text encoders inside single-file checkpoints <-> transformers' CLIPTextModel names.
//
// OpenAI CLIP (SD1.x cond_stage_model.transformer., SDXL conditioner.embedders.0.transformer.)
// is stored with transformers' own names: only the prefix changes.
//
// OpenCLIP (SD2.x cond_stage_model.model., SDXL conditioner.embedders.1.model., refiner
// conditioner.embedders.0.model.):
//   token_embedding / positional_embedding <-> text_model.embeddings.token_embedding / position_embedding.weight
//   transformer.resblocks.K.ln_1 / ln_2 / mlp.c_fc / mlp.c_proj / attn.out_proj
//     <-> text_model.encoder.layers.K.layer_norm1 / layer_norm2 / mlp.fc1 / mlp.fc2 / self_attn.out_proj
//   transformer.resblocks.K.attn.in_proj_{weight,bias} (q|k|v stacked) -> self_attn.{q,k,v}_proj (thirds)
//   ln_final <-> text_model.final_layer_norm
//   text_projection [hidden, proj] (used as x @ P) -> text_projection.weight [proj, hidden] (transposed)
//   logit_scale: not part of the text model (dropped)
#pragma once

#include <string>

#include "weights/key_map.h"
#include "weights/key_names.h"

namespace diffnorm::weights {

/// Adds the rules of an OpenAI CLIP text model stored with transformers' names under `prefix`.
void add_hf_clip_rules(KeyMap& map, const std::string& prefix);

struct OpenClipLayout {
  int layers = 0;  // transformer.resblocks stored in the file

  static OpenClipLayout infer(const KeyNames& keys);
};

/// Adds the rules of an OpenCLIP text tower under `prefix`. `penultimate` (SD2.x): the
/// diffusers model stops one layer early (num_hidden_layers = layers - 1, as SD2 uses the
/// penultimate hidden state) and has no projection, so the last block and text_projection
/// are dropped, as diffusers' converter does.
void add_openclip_rules(KeyMap& map, const OpenClipLayout& layout, const std::string& prefix, bool penultimate);

}  // namespace diffnorm::weights
