#include "pipeline/text_mojibake.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "pipeline/unicode_tables.h"
#include "pipeline/unicode_utf8.h"

namespace diffnorm {
namespace {

// ---------------------------------------------------------------------------------
// The character categories of ftfy's badness heuristic (ftfy/badness.py,
// MOJIBAKE_CATEGORIES): the few hundred characters that occur in UTF-8 mojibake.
enum Category : std::uint16_t {
  kCommon = 1 << 0,
  kC1 = 1 << 1,
  kBad = 1 << 2,
  kCurrency = 1 << 3,
  kStartPunct = 1 << 4,
  kEndPunct = 1 << 5,
  kNumeric = 1 << 6,
  kKaomoji = 1 << 7,
  kUpperAccented = 1 << 8,
  kLowerAccented = 1 << 9,
  kUpperCommon = 1 << 10,
  kLowerCommon = 1 << 11,
  kBox = 1 << 12,
};

struct CategoryMembers {
  Category category;
  std::u32string_view chars;
  std::u32string_view ranges;  // pairs of inclusive bounds
};

const CategoryMembers kCategoryMembers[] = {
    {kCommon, U"\u00A0\u00AD\u00B7\u00B4\u2013\u2014\u2015\u2026\u2019", U""},
    {kC1, U"", U"\u0080\u009F"},
    {kBad, U"¦¤¨¬¯¶§¸ƒˆˇ˘˛˜†‡‰⌐◊\uFFFDªº", U""},
    {kCurrency, U"¢£¥₧€", U""},
    {kStartPunct, U"¡«¿©΄΅‘‚“„•‹\uF8FF", U""},
    {kEndPunct, U"®»˝”›™", U""},
    {kNumeric, U"²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№", U""},
    {kKaomoji, U"Ő°", U"ÒÖÙÜòöøü"},
    {kUpperAccented, U"ØÜÝĂĄĆČĎĐĘĚĞİĹĽŁŃŇŒŘŚŞŠŢŤŮŰŸŹŻŽҐ", U"ÀÑ"},
    {kLowerAccented, U"ßăąćčďđęěğĺľłœŕśşšťüźżžґﬁﬂ", U"àñ"},
    {kUpperCommon, U"ÞΆΈΉΊΌΎΏΪΫ", U"ΑΩЁЯ"},
    {kLowerCommon, U"άέήίΰ", U"αωаџ"},
    {kBox, U"│┌┐┘├┤┬┼▀▄█▌▐░▒▓", U"═╬"},
};

std::uint16_t categories_of(char32_t c) {
  static const std::unordered_map<char32_t, std::uint16_t> table = [] {
    std::unordered_map<char32_t, std::uint16_t> t;
    for (const CategoryMembers& m : kCategoryMembers) {
      for (char32_t c : m.chars) t[c] |= m.category;
      for (std::size_t i = 0; i + 1 < m.ranges.size(); i += 2)
        for (char32_t c = m.ranges[i]; c <= m.ranges[i + 1]; ++c) t[c] |= m.category;
    }
    return t;
  }();
  auto it = table.find(c);
  return it == table.end() ? 0 : it->second;
}

// One position of a badness pattern: a union of categories and listed characters, or
// one of the regex classes the patterns use.
struct CharClass {
  enum class Kind { kSet, kAsciiLower, kAsciiLetter, kNotAsciiLetter, kSpace, kWord, kNotNewline };
  std::uint16_t categories = 0;
  std::u32string_view extra = U"";
  Kind kind = Kind::kSet;

  bool contains(char32_t c) const {
    const bool ascii_lower = c >= 'a' && c <= 'z';
    const bool ascii_letter = ascii_lower || (c >= 'A' && c <= 'Z');
    switch (kind) {
      case Kind::kAsciiLower: return ascii_lower;
      case Kind::kAsciiLetter: return ascii_letter;
      case Kind::kNotAsciiLetter: return !ascii_letter;
      case Kind::kSpace: return unicode::has(c, unicode::kSpace);
      case Kind::kWord: return unicode::has(c, unicode::kWord);
      case Kind::kNotNewline: return c != '\n';
      case Kind::kSet: break;
    }
    return (categories_of(c) & categories) != 0 || extra.find(c) != std::u32string_view::npos;
  }
};

CharClass set(std::uint16_t categories, std::u32string_view extra = U"") { return {categories, extra}; }
CharClass chars(std::u32string_view extra) { return {0, extra}; }
const CharClass kAsciiLower{0, U"", CharClass::Kind::kAsciiLower};
const CharClass kAsciiLetter{0, U"", CharClass::Kind::kAsciiLetter};
const CharClass kNotAsciiLetter{0, U"", CharClass::Kind::kNotAsciiLetter};
const CharClass kWhitespace{0, U"", CharClass::Kind::kSpace};
const CharClass kWordChar{0, U"", CharClass::Kind::kWord};
const CharClass kAnyButNewline{0, U"", CharClass::Kind::kNotNewline};

struct Pattern {
  std::vector<CharClass> sequence;
  bool anchored_at_start = false;
};

// ftfy's BADNESS_RE, one alternative per entry (`\s?` written out as two entries).
const std::vector<Pattern>& badness_patterns() {
  constexpr std::uint16_t la = kLowerAccented, ua = kUpperAccented, box = kBox, sp = kStartPunct,
                          ep = kEndPunct, cur = kCurrency, num = kNumeric, bad = kBad, c1 = kC1;
  static const std::vector<Pattern> patterns = {
      {{set(c1)}},
      {{set(bad | la | ua | box | sp | ep | cur | num), set(bad)}},
      {{kAsciiLetter, set(kLowerCommon | kUpperCommon), set(bad)}},
      {{set(bad), set(la | ua | box | sp | ep | cur | num)}},
      {{set(la | kLowerCommon | box | ep | cur | num), set(ua)}},
      {{set(box | ep | cur | num), set(la)}},
      {{set(la | box | ep), set(cur)}},
      {{kWhitespace, set(ua), set(cur)}},
      {{set(ua | box), set(num)}},
      {{set(la | ua | box | cur | ep), set(sp), set(num)}},
      {{set(la | ua | cur | num | box), set(ep), set(sp)}},
      {{set(cur | num | box), set(sp)}},
      {{kAsciiLower, set(ua), set(sp | cur)}},
      {{set(box), set(kKaomoji)}},
      {{set(la | ua | cur | num | sp | ep), set(box)}},
      {{set(box), set(ep)}},
      {{set(la | ua), set(ep), kWordChar}},
      {{chars(U"Œœ"), kNotAsciiLetter}},
      {{chars(U"ÂÃÎÐ"), set(sp | ep, U"€Šš¢£Ÿž\u00A0\u00AD®©°·»–—´")}},
      {{chars(U"×"), chars(U"²³")}},
      {{chars(U"ØÙ"), set(kCommon | cur | bad | num | sp, U"ŸŠ®°µ»"), chars(U"ØÙ"),
        set(kCommon | cur | bad | num | sp, U"ŸŠ®°µ»")}},
      {{chars(U"à"), chars(U"²µ¹¼½¾")}},
      {{chars(U"√"), chars(U"±∂†≠®™´≤≥¥µø")}},
      {{chars(U"≈"), chars(U"°¢")}},
      {{chars(U"‚"), chars(U"Ä"), chars(U"ìîïòôúùû†°¢π")}},
      {{chars(U"‚"), chars(U"âó"), chars(U"àä°ê")}},
      {{chars(U"в"), chars(U"Ђ")}},
      {{chars(U"ВГРС"), set(c1 | bad | sp | ep | cur, U"°µ"), chars(U"ВГРС")}},
      {{chars(U"Г"), chars(U"ў"), chars(U"В"), chars(U"Ђ"), chars(U"В"), kAnyButNewline,
        chars(U"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")}},
      {{chars(U"Ã"), chars(U"\u00A0¡")}},
      {{kAsciiLower, chars(U"ÃÂ"), chars(U" ")}},
      {{kAsciiLower, kWhitespace, chars(U"ÃÂ"), chars(U" ")}},
      {{chars(U"ÃÂ"), chars(U" ")}, true},
      {{set(ep, U"abcdefghijklmnopqrstuvwxyz.,?!"), chars(U"Â"), set(sp | ep, U" ")}},
      {{chars(U"β"), chars(U"€"), chars(U"™\u00A0Ά\u00AD®°")}},
      {{chars(U"ΒΓΞΟ"), set(c1 | bad | sp | ep | cur, U"°"), chars(U"ΒΓΞΟ")}},
  };
  return patterns;
}

bool matches_at(const Pattern& p, std::u32string_view text, std::size_t at) {
  if (p.anchored_at_start && at != 0) return false;
  if (at + p.sequence.size() > text.size()) return false;
  for (std::size_t k = 0; k < p.sequence.size(); ++k)
    if (!p.sequence[k].contains(text[at + k])) return false;
  return true;
}

// ---------------------------------------------------------------------------------
// Single-byte code pages (ftfy's CHARMAP_ENCODINGS) and UTF-8 re-decoding.

bool is_sloppy(const unicode::SingleByteCodec& codec) {
  return std::string_view(codec.name).starts_with("sloppy-");
}

// ftfy.chardata.possible_encoding + str.encode: the bytes, if every character has one.
std::optional<std::string> encode_single_byte(std::u32string_view text, const unicode::SingleByteCodec& codec) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80 && c != 0x1A) {
      out.push_back(static_cast<char>(c));
    } else if (c == codec.byte_1a) {
      out.push_back('\x1A');
    } else {
      const char32_t* end = codec.high + 128;
      const char32_t* it = std::find(codec.high, end, c);
      if (it == end) return std::nullopt;
      out.push_back(static_cast<char>(0x80 + (it - codec.high)));
    }
  }
  return out;
}

bool byte_in(unsigned char b, unsigned char lo, unsigned char hi) { return b >= lo && b <= hi; }
bool continuation(unsigned char b) { return byte_in(b, 0x80, 0xBF); }

// chardata.ALTERED_UTF8_RE: a UTF-8 sequence whose 0xA0 byte became a space (some
// Windows-1252 software does that). Length of the match at `i`, 0 if none.
std::size_t altered_utf8_length(const std::string& s, std::size_t i) {
  auto at = [&](std::size_t k) -> int { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : -1; };
  auto cont = [](int b) { return b >= 0x80 && b <= 0xBF; };
  const int b0 = at(0);
  if ((b0 == 0xC2 || b0 == 0xC3 || b0 == 0xC5 || b0 == 0xCE || b0 == 0xD0) && at(1) == ' ') return 2;
  if (b0 >= 0xE0 && b0 <= 0xEF && ((at(1) == ' ' && cont(at(2))) || (cont(at(1)) && at(2) == ' '))) return 3;
  if (b0 == 0xF0) {
    for (int space = 1; space <= 3; ++space) {
      bool ok = true;
      for (int k = 1; k <= 3; ++k) ok = ok && (k == space ? at(k) == ' ' : cont(at(k)));
      if (ok) return 4;
    }
  }
  return 0;
}

bool has_altered_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (altered_utf8_length(s, i)) return true;
  return false;
}

// fixes.restore_byte_a0: first "\xC3 " that stands for the word "à" (A_GRAVE_WORD_RE),
// then every altered sequence gets its 0xA0 back.
std::string restore_byte_a0(const std::string& in) {
  std::string s;
  for (std::size_t i = 0; i < in.size(); ++i) {
    s.push_back(in[i]);
    if (static_cast<unsigned char>(in[i]) == 0xC3 && i + 1 < in.size() && in[i + 1] == ' ') {
      const std::string_view rest = std::string_view(in).substr(i + 2);
      const bool excluded = rest.starts_with(" ") || rest.starts_with("quele") || rest.starts_with("quela") ||
                            rest.starts_with("quilo") || rest.starts_with("s ");
      if (!excluded) s.push_back('\xA0');
    }
  }
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (std::size_t n = altered_utf8_length(s, i)) {
      for (std::size_t k = 0; k < n; ++k) out.push_back(s[i + k] == ' ' ? '\xA0' : s[i + k]);
      i += n;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

// fixes.replace_lossy_sequences (LOSSY_UTF8_RE): UTF-8 sequences that lost bytes to
// U+FFFD (encoded as 0x1A by the sloppy codecs) become one U+FFFD.
std::string replace_lossy_sequences(const std::string& s) {
  auto at = [&](std::size_t i) -> int { return i < s.size() ? static_cast<unsigned char>(s[i]) : -1; };
  auto lost = [](int b) { return b == 0x1A || b == '?'; };                       // [\x1a?]
  auto cont_or_sub = [](int b) { return b == 0x1A || (b >= 0x80 && b <= 0xBF); };  // [\x1a\x80-\xbf]
  auto any_of3 = [&](int b) { return lost(b) || (b >= 0x80 && b <= 0xBF); };       // [\x1a?\x80-\xbf]
  auto lossy_length = [&](std::size_t i) -> std::size_t {
    const int b0 = at(i);
    if (b0 >= 0xC2 && b0 <= 0xDF && at(i + 1) == 0x1A) return 2;
    if ((b0 == 0xC2 || b0 == 0xC3) && at(i + 1) == '?') return 2;
    if (b0 == 0xED && at(i + 1) >= 0xA0 && at(i + 1) <= 0xAF && at(i + 3) == 0xED && at(i + 4) >= 0xB0 &&
        at(i + 4) <= 0xBF) {
      if (lost(at(i + 2)) && any_of3(at(i + 5))) return 6;
      if (any_of3(at(i + 2)) && lost(at(i + 5))) return 6;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
      if (lost(at(i + 1)) && cont_or_sub(at(i + 2))) return 3;
      if (cont_or_sub(at(i + 1)) && lost(at(i + 2))) return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
      for (int l = 1; l <= 3; ++l) {
        bool ok = true;
        for (int k = 1; k <= 3; ++k) ok = ok && (k == l ? lost(at(i + k)) : cont_or_sub(at(i + k)));
        if (ok) return 4;
      }
    }
    if (b0 == 0x1A) return 1;
    return 0;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (std::size_t n = lossy_length(i)) {
      out += "\xEF\xBF\xBD";
      i += n;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

// Python's strict UTF-8 decoder, or ftfy's "utf-8-variants" (which also accepts
// CESU-8 surrogate pairs and Java's C0 80 for NUL).
std::optional<std::u32string> decode_utf8(const std::string& s, bool variants) {
  std::u32string out;
  std::size_t i = 0;
  auto at = [&](std::size_t k) -> unsigned { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0; };
  while (i < s.size()) {
    const unsigned b0 = at(i);
    if (variants) {
      if (b0 == 0xED && i + 5 < s.size() && byte_in(at(i + 1), 0xA0, 0xAF) && continuation(at(i + 2)) &&
          at(i + 3) == 0xED && byte_in(at(i + 4), 0xB0, 0xBF) && continuation(at(i + 5))) {
        const char32_t high = 0xD000 | ((at(i + 1) & 0x3F) << 6) | (at(i + 2) & 0x3F);
        const char32_t low = 0xD000 | ((at(i + 4) & 0x3F) << 6) | (at(i + 5) & 0x3F);
        out.push_back(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00));
        i += 6;
        continue;
      }
      if (b0 == 0xC0 && i + 1 < s.size() && at(i + 1) == 0x80) {
        out.push_back(0);
        i += 2;
        continue;
      }
    }
    std::size_t length = 0;
    char32_t c = 0, min = 0;
    if (b0 < 0x80) length = 1, c = b0;
    else if (b0 >= 0xC2 && b0 < 0xE0) length = 2, c = b0 & 0x1F, min = 0x80;
    else if (b0 >= 0xE0 && b0 < 0xF0) length = 3, c = b0 & 0x0F, min = 0x800;
    else if (b0 >= 0xF0 && b0 < 0xF5) length = 4, c = b0 & 0x07, min = 0x10000;
    if (length == 0 || i + length > s.size()) return std::nullopt;
    for (std::size_t k = 1; k < length; ++k) {
      if (!continuation(at(i + k))) return std::nullopt;
      c = (c << 6) | (at(i + k) & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return std::nullopt;
    out.push_back(c);
    i += length;
  }
  return out;
}

// ---------------------------------------------------------------------------------
// chardata.UTF8_DETECTOR_RE: runs of what look like UTF-8 sequences read as
// single-byte characters, to be fixed on their own inside otherwise good text.
constexpr std::u32string_view kUtf8FirstOf2 =
    U"ÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßĂĆČĎĐĘĚĞİĹŃŇŐŘŞŢŮŰ"
    U"ΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩΪΫάέήίВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ";
constexpr std::u32string_view kUtf8FirstOf3 = U"àáâãäåæçèéêëìíîïăćčďęěĺŕΰαβγδεζηθικλμνξοабвгдежзийклмноп";
constexpr std::u32string_view kUtf8FirstOf4 = U"ðóđğπσру";
constexpr std::u32string_view kUtf8Continuation =
    U"ĄąĽľŁłŒœŚśŞşŠšŤťŸŹźŻżŽžƒˆˇ˘˛˜˝΄΅"
    U"ΆΈΉΊΌΎΏЁЂЃЄЅІЇЈЉЊЋЌЎЏёђѓєѕіїјљњћќўџҐґ"
    U"–—―‘’‚“”„†‡•…‰‹›€№™ ";

bool utf8_continuation_like(char32_t c) {
  return (c >= 0x80 && c <= 0xBF) || kUtf8Continuation.find(c) != std::u32string_view::npos;
}

// Length of the detector's match starting at `i` (0 if none).
std::size_t utf8_detector_match(std::u32string_view text, std::size_t i) {
  const std::size_t start = i;
  while (i < text.size()) {
    std::size_t continuations = 0;
    const char32_t c = text[i];
    if (kUtf8FirstOf2.find(c) != std::u32string_view::npos) continuations = 1;
    else if (kUtf8FirstOf3.find(c) != std::u32string_view::npos) continuations = 2;
    else if (kUtf8FirstOf4.find(c) != std::u32string_view::npos) continuations = 3;
    else break;
    if (i + continuations >= text.size()) break;
    bool ok = true;
    for (std::size_t k = 1; k <= continuations; ++k) ok = ok && utf8_continuation_like(text[i + k]);
    if (!ok) break;
    i += continuations + 1;
  }
  return i - start;
}

std::u32string decode_inconsistent_utf8(std::u32string_view text) {
  std::u32string out;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_detector_match(text, i);
    if (n == 0) {
      out += text[i++];
      continue;
    }
    const std::u32string_view piece = text.substr(i, n);
    // Only a strictly shorter piece, so that this cannot recurse forever.
    if (piece.size() < text.size() && looks_like_mojibake(piece)) out += fix_mojibake(piece);
    else out += piece;
    i += n;
  }
  return out;
}

bool contains_c1(std::u32string_view text) {
  return std::any_of(text.begin(), text.end(), [](char32_t c) { return c >= 0x80 && c <= 0x9F; });
}

const unicode::SingleByteCodec& codec_named(std::string_view name) {
  for (const unicode::SingleByteCodec& c : unicode::charmap_encodings())
    if (name == c.name) return c;
  throw std::logic_error("unknown code page");
}

// One step of ftfy's _fix_encoding_one_step_and_explain.
std::u32string fix_one_step(std::u32string_view text) {
  const bool ascii = std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x80; });
  if (text.empty() || ascii || !looks_like_mojibake(text)) return std::u32string(text);

  bool latin1_possible = false;
  for (const unicode::SingleByteCodec& codec : unicode::charmap_encodings()) {
    std::optional<std::string> bytes = encode_single_byte(text, codec);
    if (!bytes) continue;
    if (std::string_view(codec.name) == "latin-1") latin1_possible = true;
    if (has_altered_utf8(*bytes)) *bytes = restore_byte_a0(*bytes);
    if (is_sloppy(codec)) *bytes = replace_lossy_sequences(*bytes);
    const bool variants = bytes->find('\xED') != std::string::npos || bytes->find('\xC0') != std::string::npos;
    if (std::optional<std::u32string> fixed = decode_utf8(*bytes, variants)) return *fixed;
  }

  // UTF-8 mojibake embedded in otherwise good text, fixed piece by piece.
  bool detector_matches = false;
  for (std::size_t i = 0; i < text.size() && !detector_matches; ++i) detector_matches = utf8_detector_match(text, i) > 0;
  if (detector_matches) {
    std::u32string fixed = decode_inconsistent_utf8(text);
    if (fixed != text) return fixed;
  }

  // Latin-1 that was meant as Windows-1252 (strict: its five undefined bytes fail).
  const unicode::SingleByteCodec& cp1252 = codec_named("sloppy-windows-1252");
  if (latin1_possible) {
    const bool decodable = std::none_of(text.begin(), text.end(), [](char32_t c) {
      return c == 0x81 || c == 0x8D || c == 0x8F || c == 0x90 || c == 0x9D;
    });
    if (decodable) {
      std::u32string fixed(text);
      for (char32_t& c : fixed)
        if (c >= 0x80 && c <= 0xFF) c = cp1252.high[c - 0x80];
      if (fixed != text) return fixed;
    }
  }

  // fixes.fix_c1_controls: each C1 control read as Windows-1252 (sloppily).
  if (contains_c1(text)) {
    std::u32string fixed(text);
    for (char32_t& c : fixed)
      if (c >= 0x80 && c <= 0x9F) c = cp1252.high[c - 0x80];
    return fixed;
  }
  return std::u32string(text);
}

}  // namespace

bool looks_like_mojibake(std::u32string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i)
    for (const Pattern& p : badness_patterns())
      if (matches_at(p, text, i)) return true;
  return false;
}

std::u32string fix_mojibake(std::u32string_view text) {
  std::u32string current(text);
  while (true) {
    std::u32string next = fix_one_step(current);
    if (next == current) return current;
    current = std::move(next);
  }
}

}  // namespace diffnorm
