#include "pipeline/text_normalize.h"

#include <cstdint>
#include <limits>

#include "pipeline/text_mojibake.h"
#include "pipeline/unicode_normalize.h"
#include "pipeline/unicode_tables.h"
#include "pipeline/unicode_utf8.h"

namespace diffnorm {
namespace {

bool is_ascii_alnum(char32_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The replacement for one `&#...;` reference, or nothing when html.unescape would
// not consume it whole (then ftfy leaves the text as it was).
bool numeric_reference(std::u32string_view body, std::u32string& out) {
  const bool hex = !body.empty() && (body[0] == 'x' || body[0] == 'X');
  std::u32string_view digits = hex ? body.substr(1) : body;
  if (digits.empty()) return false;
  std::uint64_t value = 0;
  for (char32_t c : digits) {
    int d;
    if (c >= '0' && c <= '9') d = int(c - '0');
    else if (hex && c >= 'a' && c <= 'f') d = int(c - 'a' + 10);
    else if (hex && c >= 'A' && c <= 'F') d = int(c - 'A' + 10);
    else return false;
    // Saturate: any value past U+10FFFF gives U+FFFD all the same.
    value = value > 0x10FFFFu ? value : value * (hex ? 16 : 10) + d;
  }
  out = unicode::html_numeric_reference(value);
  return true;
}

// fixes.unescape_html: every `&#?[0-9A-Za-z]{1,24};` that names an entity.
std::u32string unescape_html(std::u32string_view text) {
  std::u32string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '&') {
      std::size_t j = i + 1;
      const bool numeric = j < text.size() && text[j] == '#';
      if (numeric) ++j;
      const std::size_t body_start = j;
      while (j < text.size() && j - body_start < 24 && is_ascii_alnum(text[j])) ++j;
      if (j > body_start && j < text.size() && text[j] == ';') {
        const std::u32string_view whole = text.substr(i, j + 1 - i);
        std::u32string replacement;
        bool replaced = false;
        if (const unicode::HtmlEntity* e = unicode::html_entity(unicode::encode_utf8(whole))) {
          replacement = unicode::decode_utf8(e->value);
          replaced = true;
        } else if (numeric) {
          replaced = numeric_reference(text.substr(body_start, j - body_start), replacement);
        }
        if (replaced) {
          out += replacement;
          i = j + 1;
          continue;
        }
      }
    }
    out += text[i++];
  }
  return out;
}

// fixes.fix_latin_ligatures: Latin typographic ligatures and legacy digraphs.
std::u32string fix_latin_ligatures(std::u32string_view text) {
  std::u32string out;
  for (char32_t c : text) {
    switch (c) {
      case U'Ĳ': out += U"IJ"; break;
      case U'ĳ': out += U"ij"; break;
      case U'ŉ': out += U"ʼn"; break;
      case U'Ǳ': out += U"DZ"; break;
      case U'ǲ': out += U"Dz"; break;
      case U'ǳ': out += U"dz"; break;
      case U'Ǆ': out += U"DŽ"; break;
      case U'ǅ': out += U"Dž"; break;
      case U'ǆ': out += U"dž"; break;
      case U'Ǉ': out += U"LJ"; break;
      case U'ǈ': out += U"Lj"; break;
      case U'ǉ': out += U"lj"; break;
      case U'Ǌ': out += U"NJ"; break;
      case U'ǋ': out += U"Nj"; break;
      case U'ǌ': out += U"nj"; break;
      case U'ﬀ': out += U"ff"; break;
      case U'ﬁ': out += U"fi"; break;
      case U'ﬂ': out += U"fl"; break;
      case U'ﬃ': out += U"ffi"; break;
      case U'ﬄ': out += U"ffl"; break;
      case U'ﬅ': out += U"ſt"; break;
      case U'ﬆ': out += U"st"; break;
      default: out += c;
    }
  }
  return out;
}

std::u32string fix_character_width(std::u32string_view text) {
  std::u32string out;
  for (char32_t c : text) {
    if (const unicode::CodePointMapping* m = unicode::width_mapping(c)) {
      for (char32_t t : m->to)
        if (t) out += t;
    } else {
      out += c;
    }
  }
  return out;
}

// C1 controls outside mojibake: each read as the Windows-1252 character (sloppily).
std::u32string fix_c1_controls(std::u32string_view text) {
  const unicode::SingleByteCodec& cp1252 = unicode::charmap_encodings()[1];
  std::u32string out(text);
  for (char32_t& c : out)
    if (c >= 0x80 && c <= 0x9F) c = cp1252.high[c - 0x80];
  return out;
}

std::u32string uncurl_quotes(std::u32string_view text) {
  std::u32string out(text);
  for (char32_t& c : out) {
    if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
    else if (c >= 0x201C && c <= 0x201F) c = '"';
  }
  return out;
}

std::u32string fix_line_breaks(std::u32string_view text) {
  std::u32string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;  // CRLF -> LF
    out += (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85) ? char32_t('\n') : c;
  }
  return out;
}

// fixes.remove_terminal_escapes: ANSI sequences ESC [ (digits|;)* letter.
std::u32string remove_terminal_escapes(std::u32string_view text) {
  std::u32string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == 0x1B && i + 1 < text.size() && text[i + 1] == '[') {
      std::size_t j = i + 2;
      while (j < text.size() && ((text[j] >= '0' && text[j] <= '9') || text[j] == ';')) ++j;
      if (j < text.size() && ((text[j] >= 'a' && text[j] <= 'z') || (text[j] >= 'A' && text[j] <= 'Z'))) {
        i = j + 1;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

// fixes.remove_control_chars: C0 controls other than tab/LF/FF/CR, DEL, deprecated
// format characters, the BOM and interlinear annotation characters.
std::u32string remove_control_chars(std::u32string_view text) {
  std::u32string out;
  for (char32_t c : text) {
    const bool control = c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
                         (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
    if (!control) out += c;
  }
  return out;
}

// ftfy.fix_and_explain for one segment.
std::u32string fix_segment(std::u32string text, bool unescape_entities) {
  while (true) {
    const std::u32string original = text;
    if (unescape_entities) text = unescape_html(text);
    text = fix_mojibake(text);
    text = fix_c1_controls(text);
    text = fix_latin_ligatures(text);
    text = fix_character_width(text);
    text = uncurl_quotes(text);
    text = fix_line_breaks(text);
    text = remove_terminal_escapes(text);
    text = remove_control_chars(text);
    text = unicode::nfc(text);
    if (text == original) return text;
  }
}

}  // namespace

std::u32string fix_text(std::u32string_view text) {
  std::u32string out;
  bool unescape_entities = true;  // "auto": until a segment containing '<' is seen
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t newline = text.find(U'\n', pos);
    const std::size_t end = newline == std::u32string_view::npos ? text.size() : newline + 1;
    const std::u32string_view segment = text.substr(pos, end - pos);
    if (segment.find(U'<') != std::u32string_view::npos) unescape_entities = false;
    out += fix_segment(std::u32string(segment), unescape_entities);
    pos = end;
  }
  return out;
}

std::u32string collapse_whitespace(std::u32string_view text) {
  std::u32string out;
  bool pending_space = false;
  for (char32_t c : text) {
    if (unicode::has(c, unicode::kSpace)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += U' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::u32string normalize_clip_text(std::u32string_view text) {
  return unicode::lower(collapse_whitespace(fix_text(text)));
}

}  // namespace diffnorm
