// Text conditioning of a generation: prompt -> context [1, 77·k, D] (+ pooled for SDXL),
// the way diffusers 0.23.1 builds prompt_embeds, extended with AUTOMATIC1111's prompt syntax:
//   SD 1.x / 2.x   last_hidden_state of text_encoder (with final LayerNorm). A diffusers SD2
//                  folder's OpenCLIP-H encoder already ends at the penultimate layer (the
//                  conversion drops the last one), so "SD2 = penultimate + ln_final" is
//                  this same rule. clip_skip N > 1: final_layer_norm(hidden_states[-N]).
//   SDXL base      concat on channels of hidden_states[-2] of CLIP-L and of bigG (no final
//                  LayerNorm); pooled = bigG text_embeds. prompt_2 goes to bigG.
//   SDXL refiner   bigG hidden_states[-2]; pooled = its text_embeds.
// Prompts are cut into 75-token chunks (BREAK, comma backtrack) encoded separately and
// concatenated along tokens; SDXL's pooled comes from the first chunk. Emphasis weights
// ("(word:1.3)") multiply each chunk's hidden states per token, then the chunk is rescaled
// to its original mean (A1111's "Original" emphasis). diffusers has no emphasis syntax, so
// the diffusers fixtures use plain prompts, for which the chunk is exactly diffusers' row.
#pragma once

#include <optional>
#include <string>

#include "pipeline/pipeline_models.h"

namespace diffnorm {

struct TextConditioning {
  Tensor context;  // [1, 77·k, D]
  Tensor pooled;   // [1, P] (SDXL); undefined for SD
};

struct TextEncodeOptions {
  int clip_skip = 1;      // 1: the model's usual layer; N: N-1 layers earlier (A1111 naming)
  bool emphasis = true;   // parse "(word:1.2)", "[word]", BREAK
};

/// The conditioning of one prompt; `prompt_2` (SDXL bigG) defaults to `prompt`.
TextConditioning encode_prompt(const PipelineModels& models, const std::string& prompt,
                               const std::optional<std::string>& prompt_2 = std::nullopt,
                               const TextEncodeOptions& options = {});

/// The same shapes, all zeros (SDXL force_zeros_for_empty_prompt).
TextConditioning zeros_like(const TextConditioning& c);

/// Extends the shorter context with encodings of the empty prompt (A1111's pad_cond), so
/// that the two halves of a CFG batch have the same number of tokens.
void match_token_counts(const PipelineModels& models, TextConditioning& a, TextConditioning& b,
                        const TextEncodeOptions& options = {});

}  // namespace diffnorm
