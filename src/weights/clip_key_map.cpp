#include "weights/clip_key_map.h"

#include <fmt/format.h>

#include "core/check.h"

namespace diffnorm::weights {

namespace {

struct Rule {
  const char* original;
  const char* diffusers;
  Transform transform;
};

// Within transformer.resblocks.K. <-> text_model.encoder.layers.K.
constexpr Rule kLayer[] = {
    {"ln_1.", "layer_norm1.", Transform::Copy},
    {"ln_2.", "layer_norm2.", Transform::Copy},
    {"mlp.c_fc.", "mlp.fc1.", Transform::Copy},
    {"mlp.c_proj.", "mlp.fc2.", Transform::Copy},
    {"attn.out_proj.", "self_attn.out_proj.", Transform::Copy},
    {"attn.in_proj_weight", "self_attn.q_proj.weight", Transform::QkvQ},
    {"attn.in_proj_weight", "self_attn.k_proj.weight", Transform::QkvK},
    {"attn.in_proj_weight", "self_attn.v_proj.weight", Transform::QkvV},
    {"attn.in_proj_bias", "self_attn.q_proj.bias", Transform::QkvQ},
    {"attn.in_proj_bias", "self_attn.k_proj.bias", Transform::QkvK},
    {"attn.in_proj_bias", "self_attn.v_proj.bias", Transform::QkvV},
};

constexpr Rule kOuter[] = {
    {"token_embedding.", "text_model.embeddings.token_embedding.", Transform::Copy},
    {"positional_embedding", "text_model.embeddings.position_embedding.weight", Transform::Copy},
    {"ln_final.", "text_model.final_layer_norm.", Transform::Copy},
};

}  // namespace

void add_hf_clip_rules(KeyMap& map, const std::string& prefix) { map.add(prefix + "text_model.", "text_model."); }

OpenClipLayout OpenClipLayout::infer(const KeyNames& keys) {
  OpenClipLayout l{keys.count("transformer.resblocks.")};
  DN_CHECK(l.layers > 0, "OpenCLIP text encoder: no transformer.resblocks.0 tensors");
  return l;
}

void add_openclip_rules(KeyMap& map, const OpenClipLayout& l, const std::string& p, bool penultimate) {
  for (const Rule& r : kOuter) map.add(p + r.original, r.diffusers, r.transform);
  const int kept = penultimate ? l.layers - 1 : l.layers;
  for (int k = 0; k < kept; ++k)
    for (const Rule& r : kLayer)
      map.add(fmt::format("{}transformer.resblocks.{}.{}", p, k, r.original),
              fmt::format("text_model.encoder.layers.{}.{}", k, r.diffusers), r.transform);
  if (penultimate) {
    map.drop(fmt::format("{}transformer.resblocks.{}.", p, l.layers - 1));
    map.drop(p + "text_projection");
  } else {
    map.add(p + "text_projection", "text_projection.weight", Transform::Transpose);
  }
  map.drop(p + "logit_scale");
}

}  // namespace diffnorm::weights
