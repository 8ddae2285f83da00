#include "pipeline/prompt_chunks.h"

#include <algorithm>

#include "core/check.h"
#include "pipeline/prompt_parser.h"

namespace diffnorm {

std::vector<PromptChunk> chunk_prompt(const ClipTokenizer& tokenizer, std::string_view prompt,
                                      const PromptChunkOptions& options) {
  DN_CHECK(options.chunk_length > 0, "chunk length must be positive, got {}", options.chunk_length);
  const std::size_t chunk_length = options.chunk_length;
  const int comma_id = tokenizer.vocab().id(",</w>");
  DN_CHECK(comma_id >= 0, "the tokenizer vocabulary has no ',</w>' token");

  const std::vector<PromptSpan> spans =
      options.parse_emphasis ? parse_prompt_attention(prompt) : std::vector<PromptSpan>{{std::string(prompt), 1.0}};

  std::vector<PromptChunk> chunks;
  PromptChunk chunk;  // tokens only, while being filled
  std::ptrdiff_t last_comma = -1;

  auto close_chunk = [&] {
    chunk.ids.resize(chunk_length, tokenizer.eos_id());
    chunk.weights.resize(chunk_length, 1.0f);
    chunk.ids.insert(chunk.ids.begin(), tokenizer.bos_id());
    chunk.ids.push_back(tokenizer.eos_id());
    chunk.weights.insert(chunk.weights.begin(), 1.0f);
    chunk.weights.push_back(1.0f);
    // OpenCLIP-style padding: everything after the first EOS becomes pad_id.
    const std::size_t first_eos = eos_index(chunk.ids, tokenizer.eos_id());
    std::fill(chunk.ids.begin() + first_eos + 1, chunk.ids.end(), options.pad_id);
    chunks.push_back(std::move(chunk));
    chunk = PromptChunk{};
    last_comma = -1;
  };

  for (const PromptSpan& span : spans) {
    if (span.is_break()) {
      close_chunk();
      continue;
    }
    for (int token : tokenizer.encode(span.text)) {
      if (token == comma_id) {
        last_comma = static_cast<std::ptrdiff_t>(chunk.ids.size());
      } else if (options.comma_backtrack != 0 && chunk.ids.size() == chunk_length && last_comma != -1 &&
                 static_cast<std::ptrdiff_t>(chunk.ids.size()) - last_comma <= options.comma_backtrack) {
        // Move the words after the last comma to the next chunk.
        const std::size_t cut = static_cast<std::size_t>(last_comma + 1);
        std::vector<int> moved_ids(chunk.ids.begin() + cut, chunk.ids.end());
        std::vector<float> moved_weights(chunk.weights.begin() + cut, chunk.weights.end());
        chunk.ids.resize(cut);
        chunk.weights.resize(cut);
        close_chunk();
        chunk.ids = std::move(moved_ids);
        chunk.weights = std::move(moved_weights);
      }
      if (chunk.ids.size() == chunk_length) close_chunk();
      chunk.ids.push_back(token);
      chunk.weights.push_back(static_cast<float>(span.weight));
    }
  }
  if (!chunk.ids.empty() || chunks.empty()) close_chunk();
  return chunks;
}

}  // namespace diffnorm
