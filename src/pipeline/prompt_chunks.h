// Long prompts as AUTOMATIC1111 feeds CLIP (sd_hijack_clip.py, tokenize_line): the
// weighted spans of parse_prompt_attention are tokenized one by one and packed into
// chunks of 75 tokens, each wrapped as BOS + 75 + EOS (77 rows, padded with EOS). A
// chunk ends early at BREAK, and when a chunk is full the text after its last comma
// moves to the next chunk if that comma is within `comma_backtrack` tokens of the end.
#pragma once

#include <string_view>
#include <vector>

#include "pipeline/clip_tokenizer.h"

namespace diffnorm {

struct PromptChunk {
  std::vector<int> ids;        // 77: BOS, tokens, EOS, padding
  std::vector<float> weights;  // one per id; 1.0 for BOS, EOS and padding
};

struct PromptChunkOptions {
  int chunk_length = 75;         // tokens between BOS and EOS
  int comma_backtrack = 20;      // A1111 "comma_padding_backtrack"; 0 disables it
  bool parse_emphasis = true;    // false: the whole prompt is one span of weight 1
  int pad_id = ClipTokenizer::kOpenAIPadId;  // ids after the first EOS (0 for OpenCLIP / SDXL tokenizer_2)
};

/// At least one chunk (the empty prompt gives BOS + EOS + padding).
std::vector<PromptChunk> chunk_prompt(const ClipTokenizer& tokenizer, std::string_view prompt,
                                      const PromptChunkOptions& options = {});

}  // namespace diffnorm
