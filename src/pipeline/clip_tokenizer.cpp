#include "pipeline/clip_tokenizer.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/check.h"
#include "pipeline/text_normalize.h"
#include "pipeline/unicode_tables.h"
#include "pipeline/unicode_utf8.h"

namespace diffnorm {
namespace {

constexpr std::u32string_view kStartOfText = U"<|startoftext|>";
constexpr std::u32string_view kEndOfText = U"<|endoftext|>";

// The pattern is compiled case-insensitively: 's' also matches U+017F (long s).
bool equals_ignoring_case(char32_t c, char32_t lower_ascii) {
  return c == lower_ascii || (lower_ascii == U's' && c == 0x17F) || (lower_ascii == U'k' && c == 0x212A);
}

bool starts_with_ignoring_case(std::u32string_view text, std::size_t at, std::u32string_view word) {
  if (at + word.size() > text.size()) return false;
  for (std::size_t k = 0; k < word.size(); ++k)
    if (!equals_ignoring_case(text[at + k], word[k])) return false;
  return true;
}

bool is_letter(char32_t c) { return unicode::has(c, unicode::kLetter); }
bool is_number(char32_t c) { return unicode::has(c, unicode::kNumber); }
// The `regex` module matches [\p{L}]+ without case folding but the negated class
// [^\s\p{L}\p{N}] with it, so a non-letter that is case-equivalent to a letter
// (U+0345, which folds to iota) is matched by neither and is dropped like a space.
bool is_other(char32_t c) {
  return (unicode::properties(c) & (unicode::kSpace | unicode::kLetter | unicode::kNumber | unicode::kLetterIgnoringCase)) == 0;
}

// CLIP's pre-tokenisation: the pieces that
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (case-insensitive) finds, left to right, alternatives tried in that order.
std::vector<std::u32string_view> split_pieces(std::u32string_view text) {
  static constexpr std::u32string_view kContractions[] = {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  std::vector<std::u32string_view> pieces;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t length = 0;
    for (std::u32string_view special : {kStartOfText, kEndOfText})
      if (length == 0 && starts_with_ignoring_case(text, i, special)) length = special.size();
    for (std::u32string_view contraction : kContractions)
      if (length == 0 && starts_with_ignoring_case(text, i, contraction)) length = contraction.size();
    if (length == 0) {
      const char32_t c = text[i];
      if (is_letter(c)) {
        while (i + length < text.size() && is_letter(text[i + length])) ++length;
      } else if (is_number(c)) {
        length = 1;
      } else if (is_other(c)) {
        while (i + length < text.size() && is_other(text[i + length])) ++length;
      }
    }
    if (length == 0) {  // matched by no alternative (whitespace): dropped
      ++i;
      continue;
    }
    pieces.push_back(text.substr(i, length));
    i += length;
  }
  return pieces;
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  DN_CHECK(in, "cannot open {}", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// "pad_token" of a tokenizer config: a string or an AddedToken object {"content": ...}.
std::optional<std::string> pad_token_in(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail("tokenizer config {} is not valid JSON: {}", path.string(), e.what());
  }
  if (!config.is_object() || !config.contains("pad_token")) return std::nullopt;
  const nlohmann::json& pad = config["pad_token"];
  if (pad.is_string()) return pad.get<std::string>();
  if (pad.is_object() && pad.contains("content") && pad["content"].is_string()) return pad["content"].get<std::string>();
  fail("tokenizer config {}: \"pad_token\" is neither a string nor an object with \"content\"", path.string());
}

int required_id(const ClipVocab& vocab, std::string_view token) {
  const int id = vocab.id(token);
  DN_CHECK(id >= 0, "the tokenizer vocabulary has no token '{}' (needed as a special token)", token);
  return id;
}

}  // namespace

ClipTokenizer::ClipTokenizer(std::string_view pad_token)
    : ClipTokenizer(std::shared_ptr<const ClipVocab>(&ClipVocab::builtin(), [](const ClipVocab*) {}), pad_token) {}

ClipTokenizer::ClipTokenizer(std::shared_ptr<const ClipVocab> vocab, std::string_view pad_token)
    : vocab_(std::move(vocab)),
      bos_id_(required_id(*vocab_, "<|startoftext|>")),
      eos_id_(required_id(*vocab_, "<|endoftext|>")),
      pad_id_(required_id(*vocab_, pad_token)) {
  special_tokens_ = {{std::u32string(kStartOfText), bos_id_}, {std::u32string(kEndOfText), eos_id_}};
  const std::u32string pad = unicode::decode_utf8(pad_token);
  if (pad != kStartOfText && pad != kEndOfText) special_tokens_.emplace_back(pad, pad_id_);
}

ClipTokenizer ClipTokenizer::from_directory(const std::filesystem::path& dir) {
  const std::filesystem::path vocab_json = dir / "vocab.json";
  const std::filesystem::path merges_txt = dir / "merges.txt";
  DN_CHECK(std::filesystem::exists(vocab_json) && std::filesystem::exists(merges_txt),
           "{} is not a CLIP tokenizer folder: expected vocab.json and merges.txt in it", dir.string());
  auto vocab = std::make_shared<const ClipVocab>(ClipVocab::from_files(vocab_json, merges_txt));
  std::optional<std::string> pad = pad_token_in(dir / "special_tokens_map.json");
  if (!pad) pad = pad_token_in(dir / "tokenizer_config.json");
  return ClipTokenizer(std::move(vocab), pad.value_or("<|endoftext|>"));
}

void ClipTokenizer::append_bpe(std::string_view piece, std::vector<int>& ids) const {
  if (piece == "<|startoftext|>" || piece == "<|endoftext|>") {
    ids.push_back(vocab_->id(piece));
    return;
  }
  std::vector<std::string> word;
  for (char b : piece) word.push_back(byte_symbol(static_cast<unsigned char>(b)));
  word.back() += "</w>";
  while (word.size() > 1) {
    int best_rank = -1;
    std::size_t best = 0;
    for (std::size_t k = 0; k + 1 < word.size(); ++k) {
      const int rank = vocab_->merge_rank(word[k], word[k + 1]);
      if (rank >= 0 && (best_rank < 0 || rank < best_rank)) best_rank = rank, best = k;
    }
    if (best_rank < 0) break;
    const std::string first = word[best], second = word[best + 1];
    std::vector<std::string> merged;
    merged.reserve(word.size());
    for (std::size_t k = 0; k < word.size(); ++k) {
      if (k + 1 < word.size() && word[k] == first && word[k + 1] == second) {
        merged.push_back(first + second);
        ++k;
      } else {
        merged.push_back(word[k]);
      }
    }
    word = std::move(merged);
  }
  for (const std::string& symbol : word) {
    const int id = vocab_->id(symbol);
    ids.push_back(id >= 0 ? id : eos_id_);  // unknown -> unk_token, which is <|endoftext|>
  }
}

std::vector<int> ClipTokenizer::encode(std::string_view text) const {
  const std::u32string code_points = unicode::decode_utf8(text);
  const std::u32string_view all(code_points);
  std::vector<int> ids;
  // As transformers: literal special tokens are split off before any normalisation
  // (the longest one where several start at the same place).
  auto encode_chunk = [&](std::u32string_view chunk) {
    const std::u32string normalized = normalize_clip_text(chunk);
    for (std::u32string_view piece : split_pieces(normalized)) append_bpe(unicode::encode_utf8(piece), ids);
  };
  std::size_t start = 0;
  for (std::size_t i = 0; i < all.size();) {
    const std::pair<std::u32string, int>* special = nullptr;
    for (const auto& candidate : special_tokens_)
      if (all.substr(i).starts_with(candidate.first) && (!special || candidate.first.size() > special->first.size()))
        special = &candidate;
    if (!special) {
      ++i;
      continue;
    }
    encode_chunk(all.substr(start, i - start));
    ids.push_back(special->second);
    i += special->first.size();
    start = i;
  }
  encode_chunk(all.substr(start));
  return ids;
}

std::vector<int> ClipTokenizer::tokenize(std::string_view text) const {
  std::vector<int> ids{bos_id_};
  const std::vector<int> body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(eos_id_);
  return ids;
}

std::vector<int> ClipTokenizer::encode_padded(std::string_view text, int max_length, int pad_id) const {
  DN_CHECK(max_length >= 2, "max_length must leave room for BOS and EOS (at least 2), got {}", max_length);
  std::vector<int> ids = tokenize(text);
  if (ids.size() > static_cast<std::size_t>(max_length)) {
    ids.resize(max_length - 1);
    ids.push_back(eos_id_);
  }
  ids.resize(max_length, pad_id);
  return ids;
}

std::size_t eos_index(std::span<const int> ids, int eos_id) {
  auto it = std::find(ids.begin(), ids.end(), eos_id);
  DN_CHECK(it != ids.end(), "token ids contain no end-of-text token ({})", eos_id);
  return static_cast<std::size_t>(it - ids.begin());
}

}  // namespace diffnorm
