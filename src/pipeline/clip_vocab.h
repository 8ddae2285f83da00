// The CLIP byte-level BPE vocabulary: token strings <-> ids and the ranked merges.
// Comes from a tokenizer folder (vocab.json + merges.txt, as in a diffusers pipeline's
// tokenizer/ and tokenizer_2/) or from the OpenAI file compiled into the library.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace diffnorm {

class ClipVocab {
 public:
  /// vocab.json ({"token": id}) and merges.txt ("#version" line, then "a b" per rank).
  static ClipVocab from_files(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt);
  /// OpenAI's bpe_simple_vocab_16e6.txt.gz contents, deriving the vocabulary as
  /// clip/simple_tokenizer.py does (256 byte symbols, the same with "</w>", one token
  /// per merge, then <|startoftext|> and <|endoftext|>).
  static ClipVocab from_openai_bpe_gz(std::span<const unsigned char> gz);
  /// The OpenAI vocabulary embedded in the library (built once, then shared).
  static const ClipVocab& builtin();

  /// Token id, or -1 if the string is not in the vocabulary.
  int id(std::string_view token) const;
  const std::string& token(int id) const;
  std::size_t size() const { return tokens_.size(); }
  /// Rank of merging `first` + `second` (lower merges first), or -1 if no such merge.
  int merge_rank(std::string_view first, std::string_view second) const;
  std::size_t merge_count() const { return merge_ranks_.size(); }

 private:
  void add_token(std::string token, int id);
  void add_merge_line(std::string_view line, std::size_t line_number);

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int> ids_;
  std::unordered_map<std::string, int> merge_ranks_;  // key: "first second"
};

/// What byte b is spelled as in the BPE symbols (GPT-2's bytes_to_unicode), UTF-8.
const std::string& byte_symbol(unsigned char b);

/// The compressed OpenAI BPE file compiled into the library (clip_vocab_embedded.cpp).
std::span<const unsigned char> embedded_openai_clip_bpe_gz();

}  // namespace diffnorm
