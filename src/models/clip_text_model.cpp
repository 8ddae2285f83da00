#include "models/clip_text_model.h"

#include <cstring>

#include "core/check.h"
#include "nn/component.h"

namespace diffnorm::models {

namespace {

std::vector<CLIPEncoderLayer> bind_layers(const nn::ModulePath& encoder, const CLIPTextConfig& c) {
  std::vector<CLIPEncoderLayer> layers;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers.emplace_back(encoder / "layers" / i, c);
  return layers;
}

}  // namespace

CLIPTextModel::CLIPTextModel(nn::WeightSource& weights, const CLIPTextConfig& c)
    : config_(c),
      token_embedding_(nn::ModulePath(weights, "text_model.embeddings.token_embedding")
                           .param("weight", {c.vocab_size, c.hidden_size})),
      position_embedding_(nn::ModulePath(weights, "text_model.embeddings.position_embedding")
                              .param("weight", {c.max_position_embeddings, c.hidden_size})),
      layers_(bind_layers(nn::ModulePath(weights, "text_model.encoder"), c)),
      final_layer_norm_(nn::ModulePath(weights, "text_model.final_layer_norm"), c.hidden_size,
                        float(c.layer_norm_eps)) {
  if (c.with_projection)
    text_projection_.emplace(nn::ModulePath(weights, "text_projection"), c.hidden_size, c.projection_dim, false);
  // A buffer older transformers versions saved; the positions are always 0..T-1.
  weights.ignore("text_model.embeddings.position_ids");
  weights.check_all_used();
}

CLIPTextModel CLIPTextModel::load(const std::string& dir) {
  nn::Component comp = nn::open_component(dir);
  return CLIPTextModel(*comp.weights, CLIPTextConfig::from(comp.config));
}

CLIPTextOutput CLIPTextModel::forward(const Tensor& input_ids, const ActivationCapture* capture) const {
  const CLIPTextConfig& c = config_;
  DN_CHECK(input_ids.dim() == 2 && (input_ids.dtype() == DType::I64 || input_ids.dtype() == DType::I32),
           "CLIP text model: input_ids must be an integer tensor [B, T], got {}", input_ids.describe());
  const int64_t b = input_ids.size(0), t = input_ids.size(1), d = c.hidden_size;
  DN_CHECK(t >= 1 && t <= c.max_position_embeddings, "CLIP text model: {} tokens, at most {} supported", t,
           c.max_position_embeddings);
  const Tensor ids = input_ids.to(DType::I64);
  const int64_t* idp = ids.data<int64_t>();

  Tensor h = Tensor::empty({b, t, d});
  float* hp = h.data<float>();
  const float* tok = token_embedding_.data<float>();
  const float* pos = position_embedding_.data<float>();
  for (int64_t i = 0; i < b * t; ++i) {
    DN_CHECK(idp[i] >= 0 && idp[i] < c.vocab_size, "CLIP text model: token id {} at [{}, {}] is outside the vocabulary [0, {})",
             idp[i], i / t, i % t, c.vocab_size);
    for (int64_t k = 0; k < d; ++k) hp[i * d + k] = tok[idp[i] * d + k] + pos[(i % t) * d + k];
  }
  if (capture) capture->tokens("text_model.embeddings", h);

  CLIPTextOutput out;
  out.hidden_states.push_back(h);
  for (const CLIPEncoderLayer& layer : layers_) out.hidden_states.push_back(layer.forward(out.hidden_states.back(), capture));
  out.last_hidden_state = final_layer_norm_.forward(out.hidden_states.back());
  if (capture) capture->tokens("text_model.final_layer_norm", out.last_hidden_state);

  out.pooled_index = Tensor::empty({b}, DType::I64);
  out.pooler_output = Tensor::empty({b, d});
  for (int64_t r = 0; r < b; ++r) {
    const int64_t* row = idp + r * t;
    int64_t at = 0;
    if (c.eos_token_id == 2) {
      for (int64_t j = 1; j < t; ++j)
        if (row[j] > row[at]) at = j;
    } else {
      while (at < t && row[at] != c.eos_token_id) ++at;
      if (at == t) at = 0;  // no EOS: transformers' argmax over an all-false mask
    }
    out.pooled_index.data<int64_t>()[r] = at;
    std::memcpy(out.pooler_output.data<float>() + r * d, out.last_hidden_state.data<float>() + (r * t + at) * d,
                std::size_t(d) * sizeof(float));
  }
  if (text_projection_) out.text_embeds = text_projection_->forward(out.pooler_output);
  return out;
}

}  // namespace diffnorm::models
