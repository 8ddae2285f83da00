// CLIPTextModel / CLIPTextModelWithProjection (transformers 4.33), weights under
// "text_model.*" (+ "text_projection.weight"):
//   h0 = token_embedding[ids] + position_embedding[0..T)
//   h_{l+1} = layer_l(h_l)  (causal, no padding mask: SD pipelines never pass one)
//   last_hidden_state = final_layer_norm(h_L)
//   pooled = last_hidden_state[b, p_b], p_b = argmax(ids_b) when eos_token_id == 2 (legacy
//            configs; the first EOS for CLIP ids), else the first position holding eos_token_id
//   text_embeds = pooled · text_projectionᵀ (no bias; WithProjection only)
#pragma once

#include <optional>
#include <vector>

#include "models/activation_capture.h"
#include "models/clip_encoder_layer.h"
#include "models/clip_text_config.h"
#include "models/layer_norm.h"
#include "nn/weight_source.h"

namespace diffnorm::models {

struct CLIPTextOutput {
  std::vector<Tensor> hidden_states;  // L + 1 tensors [B, T, D]: embeddings, then each layer
  Tensor last_hidden_state;           // [B, T, D]
  Tensor pooled_index;                // i64 [B]
  Tensor pooler_output;               // [B, D]
  Tensor text_embeds;                 // [B, projection_dim]; undefined without projection
};

class CLIPTextModel {
 public:
  /// Binds every weight of `config` from `weights` (which must hold nothing else).
  CLIPTextModel(nn::WeightSource& weights, const CLIPTextConfig& config);
  /// Opens a component folder (config.json + model.safetensors).
  static CLIPTextModel load(const std::string& dir);

  /// input_ids i64 [B, T], T <= max_position_embeddings.
  CLIPTextOutput forward(const Tensor& input_ids, const ActivationCapture* capture = nullptr) const;
  /// final_layer_norm(x): SD "clip skip" applies it to an earlier hidden state.
  Tensor final_layer_norm(const Tensor& x) const { return final_layer_norm_.forward(x); }
  const CLIPTextConfig& config() const { return config_; }

 private:
  CLIPTextConfig config_;
  Tensor token_embedding_, position_embedding_;
  std::optional<Linear> text_projection_;
  std::vector<CLIPEncoderLayer> layers_;
  LayerNorm final_layer_norm_;
};

}  // namespace diffnorm::models
