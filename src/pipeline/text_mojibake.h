// Mojibake detection and repair as ftfy 6.1 does it (ftfy.badness.is_bad and
// ftfy.fix_encoding): text that was UTF-8, decoded with a single-byte code page
// ("cafÃ©", "â€œ"), is re-encoded with that code page and decoded as UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace diffnorm {

/// ftfy's heuristic: does the text contain a character sequence typical of mojibake?
bool looks_like_mojibake(std::u32string_view text);

/// ftfy.fix_encoding with the default configuration: repeats single repair steps
/// until the text stops changing.
std::u32string fix_mojibake(std::u32string_view text);

}  // namespace diffnorm
