#include "pipeline/prompt_parser.h"

#include <charconv>

#include "core/check.h"
#include "pipeline/unicode_tables.h"
#include "pipeline/unicode_utf8.h"

namespace diffnorm {
namespace {

constexpr double kRoundBracketMultiplier = 1.1;
constexpr double kSquareBracketMultiplier = 1 / 1.1;

bool is_space(char32_t c) { return unicode::has(c, unicode::kSpace); }
bool is_word(char32_t c) { return unicode::has(c, unicode::kWord); }
bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }

struct Builder {
  std::vector<std::pair<std::u32string, double>> spans;

  void multiply_from(std::size_t start, double multiplier) {
    for (std::size_t k = start; k < spans.size(); ++k) spans[k].second *= multiplier;
  }

  // Plain text: split at BREAK (regex \s*\bBREAK\b\s*), which becomes ("BREAK", -1).
  void add_text(std::u32string_view text) {
    static constexpr std::u32string_view kBreak = U"BREAK";
    std::size_t part_start = 0;
    std::size_t search = 0;
    while (true) {
      const std::size_t at = text.find(kBreak, search);
      if (at == std::u32string_view::npos) break;
      const std::size_t after = at + kBreak.size();
      const bool bounded = (at == 0 || !is_word(text[at - 1])) && (after == text.size() || !is_word(text[after]));
      if (!bounded) {
        search = at + 1;
        continue;
      }
      std::size_t match_start = at;
      while (match_start > part_start && is_space(text[match_start - 1])) --match_start;
      std::size_t match_end = after;
      while (match_end < text.size() && is_space(text[match_end])) ++match_end;
      spans.emplace_back(std::u32string(text.substr(part_start, match_start - part_start)), 1.0);
      spans.emplace_back(std::u32string(kBreak), -1.0);
      part_start = search = match_end;
    }
    spans.emplace_back(std::u32string(text.substr(part_start)), 1.0);
  }
};

// `:\s*([+-]?[.\d]+)\s*\)` at `at`: the match length and the number text, if it matches.
std::size_t weight_suffix(std::u32string_view text, std::size_t at, std::u32string& number) {
  std::size_t i = at + 1;
  while (i < text.size() && is_space(text[i])) ++i;
  const std::size_t number_start = i;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const std::size_t digits_start = i;
  while (i < text.size() && (text[i] == '.' || is_ascii_digit(text[i]))) ++i;
  if (i == digits_start) return 0;
  number.assign(text.substr(number_start, i - number_start));
  while (i < text.size() && is_space(text[i])) ++i;
  if (i >= text.size() || text[i] != ')') return 0;
  return i + 1 - at;
}

double parse_weight(const std::u32string& number) {
  const std::string s = unicode::encode_utf8(number);
  const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
  double value = 0;
  auto [end, error] = std::from_chars(begin, s.data() + s.size(), value);
  DN_CHECK(error == std::errc() && end == s.data() + s.size(),
           "prompt weight '{}' is not a number (expected e.g. (word:1.2))", s);
  return value;
}

}  // namespace

std::vector<PromptSpan> parse_prompt_attention(std::string_view prompt) {
  const std::u32string text = unicode::decode_utf8(prompt);
  Builder b;
  std::vector<std::size_t> round_brackets, square_brackets;
  static constexpr std::u32string_view kSyntax = U"\\()[]:";
  for (std::size_t i = 0; i < text.size();) {
    const char32_t c = text[i];
    if (c == '\\') {
      const bool escaped = i + 1 < text.size() && std::u32string_view(U"()[]\\").find(text[i + 1]) != std::u32string_view::npos;
      b.spans.emplace_back(escaped ? std::u32string(1, text[i + 1]) : std::u32string(), 1.0);
      i += escaped ? 2 : 1;
    } else if (c == '(') {
      round_brackets.push_back(b.spans.size());
      ++i;
    } else if (c == '[') {
      square_brackets.push_back(b.spans.size());
      ++i;
    } else if (c == ':') {
      std::u32string number;
      const std::size_t length = weight_suffix(text, i, number);
      if (length > 0 && !round_brackets.empty()) {
        b.multiply_from(round_brackets.back(), parse_weight(number));
        round_brackets.pop_back();
        i += length;
      } else if (length > 0) {
        b.add_text(std::u32string_view(text).substr(i, length));
        i += length;
      } else {
        b.add_text(U":");
        ++i;
      }
    } else if (c == ')' && !round_brackets.empty()) {
      b.multiply_from(round_brackets.back(), kRoundBracketMultiplier);
      round_brackets.pop_back();
      ++i;
    } else if (c == ']' && !square_brackets.empty()) {
      b.multiply_from(square_brackets.back(), kSquareBracketMultiplier);
      square_brackets.pop_back();
      ++i;
    } else if (c == ')' || c == ']') {
      b.add_text(std::u32string(1, c));
      ++i;
    } else {
      std::size_t end = i;
      while (end < text.size() && kSyntax.find(text[end]) == std::u32string_view::npos) ++end;
      b.add_text(std::u32string_view(text).substr(i, end - i));
      i = end;
    }
  }
  // Brackets never closed still apply, in the order they were opened.
  for (std::size_t start : round_brackets) b.multiply_from(start, kRoundBracketMultiplier);
  for (std::size_t start : square_brackets) b.multiply_from(start, kSquareBracketMultiplier);

  if (b.spans.empty()) b.spans.emplace_back(U"", 1.0);
  std::vector<PromptSpan> out;
  for (auto& [span_text, weight] : b.spans) {
    if (!out.empty() && out.back().weight == weight) out.back().text += unicode::encode_utf8(span_text);
    else out.push_back({unicode::encode_utf8(span_text), weight});
  }
  return out;
}

}  // namespace diffnorm
