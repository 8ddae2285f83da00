// The CLIP BPE tokenizer, identical to transformers' CLIPTokenizer (slow, with ftfy
// installed) as diffusers pipelines use it: literal special tokens (<|startoftext|>,
// <|endoftext|> and the pad token, e.g. "!" for SDXL's tokenizer_2) are split off
// first, every other piece is normalised (normalize_clip_text), split by CLIP's
// pre-tokenisation pattern, spelled as bytes and merged by byte-level BPE.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pipeline/clip_vocab.h"

namespace diffnorm {

class ClipTokenizer {
 public:
  static constexpr int kContextLength = 77;  // BOS + 75 tokens + EOS
  static constexpr int kOpenAIPadId = 49407;

  /// The OpenAI vocabulary compiled into the library. The default pad token is EOS
  /// (CLIP-L, SD1.x, SDXL `tokenizer`); SDXL's `tokenizer_2` uses "!" (id 0), which
  /// then also counts as a special token when it appears in the text.
  explicit ClipTokenizer(std::string_view pad_token = "<|endoftext|>");
  /// vocab.json + merges.txt from a tokenizer folder; the pad id comes from the
  /// folder's special_tokens_map.json / tokenizer_config.json ("!" = 0 for SDXL's
  /// tokenizer_2), EOS when neither names one.
  static ClipTokenizer from_directory(const std::filesystem::path& dir);

  /// BOS + the tokens of `text` + EOS, untruncated. `text` is UTF-8.
  std::vector<int> tokenize(std::string_view text) const;
  /// The tokens of `text` without BOS/EOS (the prompt parser works on these).
  std::vector<int> encode(std::string_view text) const;
  /// A `max_length` row as the pipelines feed the text encoder: BOS + at most
  /// max_length-2 tokens + EOS, then `pad_id` up to max_length. (Only the padding
  /// changes with `pad_id`; the pad token's splitting is the tokenizer's own.)
  std::vector<int> encode_padded(std::string_view text, int max_length, int pad_id) const;
  std::vector<int> encode_padded(std::string_view text) const {
    return encode_padded(text, kContextLength, pad_id_);
  }

  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }
  const std::string& token(int id) const { return vocab_->token(id); }
  const ClipVocab& vocab() const { return *vocab_; }

 private:
  ClipTokenizer(std::shared_ptr<const ClipVocab> vocab, std::string_view pad_token);
  void append_bpe(std::string_view piece_utf8, std::vector<int>& ids) const;

  std::shared_ptr<const ClipVocab> vocab_;
  int bos_id_;
  int eos_id_;
  int pad_id_;
  std::vector<std::pair<std::u32string, int>> special_tokens_;  // split off before normalising
};

/// The pooled-output position: the first EOS in `ids` (= argmax for CLIP ids, the
/// rule of transformers 4.33). Throws if there is none.
std::size_t eos_index(std::span<const int> ids, int eos_id);

}  // namespace diffnorm
