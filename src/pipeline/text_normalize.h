// The text normalisation of the CLIP tokenizer as diffusers runs it (transformers
// CLIPTokenizer with ftfy installed): ftfy.fix_text (ftfy 6.1 defaults), then
// whitespace runs -> one space, strip, lower-case.
#pragma once

#include <string>
#include <string_view>

namespace diffnorm {

/// ftfy.fix_text with its default configuration: per line, HTML entity unescaping
/// (only while no line so far contained '<'), mojibake repair, C1 controls, Latin
/// ligatures, character width, curly quotes, line breaks, terminal escapes, control
/// characters, NFC; repeated until nothing changes.
std::u32string fix_text(std::u32string_view text);

/// transformers' whitespace_clean: every run of whitespace becomes one space; trimmed.
std::u32string collapse_whitespace(std::u32string_view text);

/// The full CLIP normalisation: lower(collapse_whitespace(fix_text(text))).
std::u32string normalize_clip_text(std::u32string_view text);

}  // namespace diffnorm
