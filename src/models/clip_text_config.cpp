#include "models/clip_text_config.h"

namespace diffnorm::models {

CLIPTextConfig CLIPTextConfig::from(const nn::ConfigReader& c) {
  CLIPTextConfig d;
  d.vocab_size = c.get_int("vocab_size", d.vocab_size);
  d.hidden_size = c.get_int("hidden_size", d.hidden_size);
  d.intermediate_size = c.get_int("intermediate_size", d.intermediate_size);
  d.projection_dim = c.get_int("projection_dim", d.projection_dim);
  d.num_hidden_layers = c.get_int("num_hidden_layers", d.num_hidden_layers);
  d.num_attention_heads = c.get_int("num_attention_heads", d.num_attention_heads);
  d.max_position_embeddings = c.get_int("max_position_embeddings", d.max_position_embeddings);
  d.hidden_act = c.get_string("hidden_act", d.hidden_act);
  d.layer_norm_eps = c.get_double("layer_norm_eps", d.layer_norm_eps);
  d.eos_token_id = c.get_int("eos_token_id", d.eos_token_id);
  for (const std::string& a : c.get_string_list("architectures", {}))
    if (a == "CLIPTextModelWithProjection") d.with_projection = true;

  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "projection_dim", "num_hidden_layers",
                          "num_attention_heads", "max_position_embeddings"})
    if (c.get_int(key, 1) <= 0) c.fail_key(key, "must be positive");
  if (d.hidden_size % d.num_attention_heads != 0)
    c.fail_key("num_attention_heads", "must divide hidden_size (" + std::to_string(d.hidden_size) + ")");
  if (d.hidden_act != "quick_gelu" && d.hidden_act != "gelu")
    c.fail_key("hidden_act", "must be \"quick_gelu\" or \"gelu\", found \"" + d.hidden_act + "\"");
  if (!(d.layer_norm_eps > 0)) c.fail_key("layer_norm_eps", "must be positive");
  return d;
}

CLIPTextConfig CLIPTextConfig::vit_l14() {
  CLIPTextConfig d;
  d.hidden_size = 768;
  d.intermediate_size = 3072;
  d.projection_dim = 768;
  d.num_hidden_layers = 12;
  d.num_attention_heads = 12;
  d.hidden_act = "quick_gelu";
  return d;
}

CLIPTextConfig CLIPTextConfig::vit_h14() {
  CLIPTextConfig d;
  d.hidden_size = 1024;
  d.intermediate_size = 4096;
  d.projection_dim = 512;
  d.num_hidden_layers = 23;
  d.num_attention_heads = 16;
  d.hidden_act = "gelu";
  return d;
}

CLIPTextConfig CLIPTextConfig::vit_bigg14() {
  CLIPTextConfig d;
  d.hidden_size = 1280;
  d.intermediate_size = 5120;
  d.projection_dim = 1280;
  d.num_hidden_layers = 32;
  d.num_attention_heads = 20;
  d.hidden_act = "gelu";
  d.with_projection = true;
  return d;
}

}  // namespace diffnorm::models
