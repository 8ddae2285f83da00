#include "pipeline/unicode_utf8.h"

#include "core/check.h"

namespace diffnorm::unicode {

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    int length = 0;
    char32_t c = 0;
    char32_t min = 0;
    if (b0 < 0x80) {
      length = 1, c = b0;
    } else if (b0 >= 0xC2 && b0 < 0xE0) {
      length = 2, c = b0 & 0x1F, min = 0x80;
    } else if (b0 >= 0xE0 && b0 < 0xF0) {
      length = 3, c = b0 & 0x0F, min = 0x800;
    } else if (b0 >= 0xF0 && b0 < 0xF5) {
      length = 4, c = b0 & 0x07, min = 0x10000;
    }
    DN_CHECK(length != 0 && i + length <= text.size(),
             "text is not valid UTF-8: byte 0x{:02X} at offset {} does not start a complete character", b0, i);
    for (int k = 1; k < length; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      DN_CHECK((b & 0xC0) == 0x80, "text is not valid UTF-8: byte 0x{:02X} at offset {} is not a continuation byte",
               b, i + k);
      c = (c << 6) | (b & 0x3F);
    }
    DN_CHECK(c >= min && c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF),
             "text is not valid UTF-8: overlong, surrogate or out-of-range sequence at offset {}", i);
    out.push_back(c);
    i += length;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

}  // namespace diffnorm::unicode
