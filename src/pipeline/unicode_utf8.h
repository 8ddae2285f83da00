// UTF-8 <-> code points for the text pipeline (which works on code points, as Python
// strings do).
#pragma once

#include <string>
#include <string_view>

namespace diffnorm::unicode {

/// Strict decoding; throws diffnorm::Error naming the offset of the first invalid byte.
std::u32string decode_utf8(std::string_view text);

std::string encode_utf8(std::u32string_view text);
void append_utf8(std::string& out, char32_t c);

}  // namespace diffnorm::unicode
