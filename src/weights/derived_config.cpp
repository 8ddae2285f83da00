#include "weights/derived_config.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/check.h"
#include "weights/clip_key_map.h"
#include "weights/model_presets.h"
#include "weights/unet_key_map.h"
#include "weights/vae_key_map.h"

namespace diffnorm::weights {

namespace {

using nlohmann::json;

// Shapes of one component's tensors by their names under its prefix.
class Shapes {
 public:
  Shapes(const SafeTensorsFile& file, const ComponentSpec& spec) : file_(file), spec_(spec) {}
  const Shape& operator()(const std::string& local) const {
    const std::string key = std::string(spec_.prefix) + local;
    const TensorInfo* t = file_.find(key);
    DN_CHECK(t != nullptr, "{}: cannot derive the {} config: tensor '{}' is missing", file_.path(), spec_.name, key);
    return t->shape;
  }

 private:
  const SafeTensorsFile& file_;
  const ComponentSpec& spec_;
};

// Heads of an attention of `width` channels at the preset's head size.
int64_t heads_at(int64_t width, int64_t head_size, const CheckpointSpec& spec, std::string_view what,
                 const std::string& origin) {
  DN_CHECK(width >= head_size && width % head_size == 0,
           "{}: cannot derive the attention heads of {}: width {} is not a multiple of the head size {} of the {} "
           "preset (not a standard-size model): load it with its diffusers configs (a folder with <component>/config.json)",
           origin, what, width, head_size, spec.preset);
  return width / head_size;
}

json preset(const CheckpointSpec& spec, std::string_view component) {
  return json::parse(preset_config_json(spec.preset, component));
}

json unet_config(const CheckpointSpec& spec, const std::vector<ComponentKeys>& all, const ComponentKeys& c,
                 const SafeTensorsFile& file) {
  const Shapes s(file, c.spec);
  const LdmUNetLayout l = LdmUNetLayout::infer(c.original);
  json j = preset(spec, "unet");
  const json p = j;

  std::vector<int64_t> channels, depth;
  std::vector<std::string> down, up;
  const int mid_depth = c.original.count("middle_block.1.transformer_blocks.");
  for (int i = 0; i < l.levels; ++i) {
    const std::string block = fmt::format("input_blocks.{}.", l.input_block(i, 0));
    channels.push_back(s(block + "0.out_layers.3.weight")[0]);
    // A level without attention has no depth of its own; the mid block's keeps the list uniform.
    depth.push_back(l.attention[i] ? c.original.count(block + "1.transformer_blocks.") : mid_depth);
    down.push_back(l.attention[i] ? "CrossAttnDownBlock2D" : "DownBlock2D");
    up.insert(up.begin(), l.attention[i] ? "CrossAttnUpBlock2D" : "UpBlock2D");
  }
  j["in_channels"] = s("input_blocks.0.0.weight")[1];
  j["out_channels"] = s("out.2.weight")[0];
  j["block_out_channels"] = channels;
  j["layers_per_block"] = l.layers_per_block;
  j["down_block_types"] = down;
  j["up_block_types"] = up;
  j["transformer_layers_per_block"] = depth;
  j["cross_attention_dim"] = s("middle_block.1.transformer_blocks.0.attn2.to_k.weight")[1];
  j["use_linear_projection"] = s("middle_block.1.proj_in.weight").size() == 2;

  // Heads: the preset's fixed count, or its fixed head size (then a list per level).
  const json& preset_heads = p["attention_head_dim"];
  if (preset_heads.is_array()) {
    const int64_t head_size = p["block_out_channels"][0].get<int64_t>() / preset_heads[0].get<int64_t>();
    std::vector<int64_t> heads;
    for (int i = 0; i < l.levels; ++i) {
      const int64_t ch = channels[std::size_t(i)];
      heads.push_back(l.attention[i] ? heads_at(ch, head_size, spec, fmt::format("UNet level {}", i), file.path())
                                     : (ch % head_size == 0 ? ch / head_size : 1));  // unused by the model
    }
    heads_at(channels.back(), head_size, spec, "the UNet mid block", file.path());
    j["attention_head_dim"] = heads;
  }

  if (l.label_emb) {
    // adm input = pooled text embedding + one sinusoid per time id; the number of ids is the preset's.
    const int64_t adm = s("label_emb.0.0.weight")[1];
    const int64_t preset_pooled = preset(spec, "text_encoder_2")["projection_dim"].get<int64_t>();
    const int64_t preset_dim = p["addition_time_embed_dim"].get<int64_t>();
    const int64_t ids = (p["projection_class_embeddings_input_dim"].get<int64_t>() - preset_pooled) / preset_dim;
    const auto te2 = std::find_if(all.begin(), all.end(), [](const ComponentKeys& k) { return k.spec.name == "text_encoder_2"; });
    DN_CHECK(te2 != all.end(), "{}: the UNet has added conditioning but the checkpoint has no text_encoder_2", file.path());
    const int64_t pooled = Shapes(file, te2->spec)("text_projection")[1];
    DN_CHECK(adm > pooled && (adm - pooled) % ids == 0,
             "{}: label_emb input width {} is not the pooled width {} plus {} equal time-id embeddings", file.path(), adm,
             pooled, ids);
    j["addition_embed_type"] = "text_time";
    j["projection_class_embeddings_input_dim"] = adm;
    j["addition_time_embed_dim"] = (adm - pooled) / ids;
  }
  return j;
}

json vae_config(const CheckpointSpec& spec, const ComponentKeys& c, const SafeTensorsFile& file) {
  const Shapes s(file, c.spec);
  const LdmVaeLayout l = LdmVaeLayout::infer(c.original);
  json j = preset(spec, "vae");
  std::vector<int64_t> channels;
  for (int i = 0; i < l.levels; ++i) channels.push_back(s(fmt::format("encoder.down.{}.block.0.conv1.weight", i))[0]);
  j["in_channels"] = s("encoder.conv_in.weight")[1];
  j["out_channels"] = s("decoder.conv_out.weight")[0];
  j["latent_channels"] = s("post_quant_conv.weight")[0];
  j["block_out_channels"] = channels;
  j["layers_per_block"] = l.layers_per_block;
  j["down_block_types"] = std::vector<std::string>(std::size_t(l.levels), "DownEncoderBlock2D");
  j["up_block_types"] = std::vector<std::string>(std::size_t(l.levels), "UpDecoderBlock2D");
  return j;
}

json clip_config(const CheckpointSpec& spec, const ComponentKeys& c, const SafeTensorsFile& file) {
  const Shapes s(file, c.spec);
  json j = preset(spec, c.spec.name);
  const int64_t head_size = j["hidden_size"].get<int64_t>() / j["num_attention_heads"].get<int64_t>();
  Shape token, position;
  int64_t mlp = 0, layers = 0;
  if (c.spec.layout == ComponentLayout::HfClip) {
    token = s("text_model.embeddings.token_embedding.weight");
    position = s("text_model.embeddings.position_embedding.weight");
    mlp = s("text_model.encoder.layers.0.mlp.fc1.weight")[0];
    layers = c.original.count("text_model.encoder.layers.");
  } else {
    token = s("token_embedding.weight");
    position = s("positional_embedding");
    mlp = s("transformer.resblocks.0.mlp.c_fc.weight")[0];
    layers = OpenClipLayout::infer(c.original).layers;
    if (c.spec.layout == ComponentLayout::OpenClipPenultimate) --layers;
    else j["projection_dim"] = s("text_projection")[1];
  }
  j["vocab_size"] = token[0];
  j["hidden_size"] = token[1];
  j["max_position_embeddings"] = position[0];
  j["intermediate_size"] = mlp;
  j["num_hidden_layers"] = layers;
  j["num_attention_heads"] = heads_at(token[1], head_size, spec, std::string(c.spec.name), file.path());
  return j;
}

}  // namespace

json derive_component_config(const CheckpointSpec& spec, const std::vector<ComponentKeys>& components, std::size_t index,
                             const SafeTensorsFile& file) {
  const ComponentKeys& c = components.at(index);
  switch (c.spec.layout) {
    case ComponentLayout::LdmUNet: return unet_config(spec, components, c, file);
    case ComponentLayout::LdmVae: return vae_config(spec, c, file);
    case ComponentLayout::HfClip:
    case ComponentLayout::OpenClip:
    case ComponentLayout::OpenClipPenultimate: return clip_config(spec, c, file);
  }
  fail("derive_component_config: unknown layout");
}

}  // namespace diffnorm::weights
