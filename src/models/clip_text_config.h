// CLIPTextConfig: the text tower of CLIP as transformers stores it in config.json
// (model_type "clip_text_model"). Absent keys take transformers' defaults (listed).
#pragma once

#include <cstdint>
#include <string>

#include "nn/config_reader.h"

namespace diffnorm::models {

struct CLIPTextConfig {
  int64_t vocab_size = 49408;             // token embedding rows
  int64_t hidden_size = 512;              // D
  int64_t intermediate_size = 2048;       // MLP width
  int64_t projection_dim = 512;           // text_projection output (WithProjection only)
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 8;        // head_dim = D / heads
  int64_t max_position_embeddings = 77;   // position embedding rows (max tokens)
  std::string hidden_act = "quick_gelu";  // "quick_gelu" (OpenAI CLIP) or "gelu" (OpenCLIP)
  double layer_norm_eps = 1e-5;
  int64_t eos_token_id = 2;               // 2 (legacy configs): pooled at argmax(ids)
  bool with_projection = false;           // architectures contains CLIPTextModelWithProjection

  /// Parses and validates a config.json (errors name the file and key).
  static CLIPTextConfig from(const nn::ConfigReader& config);

  /// Presets: SD1.x text encoder (OpenAI ViT-L/14), SD2.x (OpenCLIP ViT-H/14),
  /// SDXL text_encoder_2 (OpenCLIP ViT-bigG/14, with projection).
  static CLIPTextConfig vit_l14();
  static CLIPTextConfig vit_h14();
  static CLIPTextConfig vit_bigg14();
};

}  // namespace diffnorm::models
