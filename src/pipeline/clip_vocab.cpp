#include "pipeline/clip_vocab.h"

#include <zlib.h>

#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "pipeline/unicode_utf8.h"

namespace diffnorm {
namespace {

// Number of merges CLIP uses: vocabulary 49408 = 512 byte symbols + merges + 2 specials.
constexpr std::size_t kClipMergeCount = 49152 - 256 - 2;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  DN_CHECK(in, "cannot open tokenizer file {}", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string gunzip(std::span<const unsigned char> gz) {
  z_stream z{};
  DN_CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, "zlib: cannot initialise gzip decoding");
  z.next_in = const_cast<Bytef*>(gz.data());
  z.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  std::array<char, 1 << 16> buffer;
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buffer.data());
    z.avail_out = static_cast<uInt>(buffer.size());
    status = inflate(&z, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      inflateEnd(&z);
      fail("zlib: the CLIP BPE vocabulary is not valid gzip data (inflate error {})", status);
    }
    out.append(buffer.data(), buffer.size() - z.avail_out);
  }
  inflateEnd(&z);
  return out;
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others
// are moved to U+0100 and up, in byte order. Returned in the order of its dict.
std::vector<std::pair<unsigned char, std::string>> byte_symbols_in_vocab_order() {
  std::vector<std::pair<unsigned char, std::string>> out;
  auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
  for (int b = 0; b < 256; ++b)
    if (printable(b)) out.emplace_back(static_cast<unsigned char>(b), unicode::encode_utf8(std::u32string(1, char32_t(b))));
  int n = 0;
  for (int b = 0; b < 256; ++b)
    if (!printable(b))
      out.emplace_back(static_cast<unsigned char>(b), unicode::encode_utf8(std::u32string(1, char32_t(256 + n++))));
  return out;
}

}  // namespace

const std::string& byte_symbol(unsigned char b) {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    for (auto& [byte, symbol] : byte_symbols_in_vocab_order()) t[byte] = symbol;
    return t;
  }();
  return table[b];
}

void ClipVocab::add_token(std::string token, int id) {
  DN_CHECK(id >= 0, "tokenizer vocabulary: negative id {} for token '{}'", id, token);
  if (tokens_.size() <= static_cast<std::size_t>(id)) tokens_.resize(id + 1);
  tokens_[id] = token;
  ids_[std::move(token)] = id;
}

void ClipVocab::add_merge_line(std::string_view line, std::size_t line_number) {
  const std::size_t space = line.find(' ');
  DN_CHECK(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
               line.find(' ', space + 1) == std::string_view::npos,
           "tokenizer merges: line {} is '{}', expected two symbols separated by one space", line_number, line);
  merge_ranks_.emplace(std::string(line), static_cast<int>(merge_ranks_.size()));
}

ClipVocab ClipVocab::from_files(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt) {
  ClipVocab v;
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(read_file(vocab_json));
  } catch (const nlohmann::json::exception& e) {
    fail("tokenizer vocabulary {} is not valid JSON: {}", vocab_json.string(), e.what());
  }
  DN_CHECK(vocab.is_object() && !vocab.empty(), "tokenizer vocabulary {}: expected a JSON object {{\"token\": id}}",
           vocab_json.string());
  for (auto& [token, id] : vocab.items()) {
    DN_CHECK(id.is_number_integer(), "tokenizer vocabulary {}: id of '{}' is not an integer", vocab_json.string(), token);
    v.add_token(token, id.get<int>());
  }
  for (std::size_t i = 0; i < v.tokens_.size(); ++i)
    DN_CHECK(v.ids_.count(v.tokens_[i]) && v.ids_.at(v.tokens_[i]) == static_cast<int>(i),
             "tokenizer vocabulary {}: ids are not contiguous (id {} is missing)", vocab_json.string(), i);

  // As transformers' CLIPTokenizer: drop the "#version" line, keep the CLIP merges.
  const std::string merges = read_file(merges_txt);
  std::istringstream lines(merges);
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_number == 1 || line.empty()) continue;
    if (v.merge_ranks_.size() == kClipMergeCount) break;
    v.add_merge_line(line, line_number);
  }
  DN_CHECK(!v.merge_ranks_.empty(), "tokenizer merges {}: no merge rules found", merges_txt.string());
  return v;
}

ClipVocab ClipVocab::from_openai_bpe_gz(std::span<const unsigned char> gz) {
  const std::string text = gunzip(gz);
  ClipVocab v;
  int next_id = 0;
  const auto symbols = byte_symbols_in_vocab_order();
  for (auto& [byte, symbol] : symbols) v.add_token(symbol, next_id++);
  for (auto& [byte, symbol] : symbols) v.add_token(symbol + "</w>", next_id++);
  std::istringstream lines(text);
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(lines, line) && v.merge_ranks_.size() < kClipMergeCount) {
    if (++line_number == 1) continue;  // "#version: ..."
    v.add_merge_line(line, line_number);
    std::string merged = line;
    merged.erase(line.find(' '), 1);
    v.add_token(std::move(merged), next_id++);
  }
  DN_CHECK(v.merge_ranks_.size() == kClipMergeCount, "CLIP BPE file: expected {} merges, found {}", kClipMergeCount,
           v.merge_ranks_.size());
  v.add_token("<|startoftext|>", next_id++);
  v.add_token("<|endoftext|>", next_id++);
  return v;
}

const ClipVocab& ClipVocab::builtin() {
  static const ClipVocab vocab = from_openai_bpe_gz(embedded_openai_clip_bpe_gz());
  return vocab;
}

int ClipVocab::id(std::string_view token) const {
  auto it = ids_.find(std::string(token));
  return it == ids_.end() ? -1 : it->second;
}

const std::string& ClipVocab::token(int id) const {
  DN_CHECK(id >= 0 && static_cast<std::size_t>(id) < tokens_.size(), "token id {} is outside the vocabulary (0..{})",
           id, tokens_.size() - 1);
  return tokens_[id];
}

int ClipVocab::merge_rank(std::string_view first, std::string_view second) const {
  std::string key;
  key.reserve(first.size() + 1 + second.size());
  key.append(first).append(" ").append(second);
  auto it = merge_ranks_.find(key);
  return it == merge_ranks_.end() ? -1 : it->second;
}

}  // namespace diffnorm
