// The Unicode character data the CLIP text normalisation needs (general categories,
// whitespace, case mapping, canonical composition) plus ftfy's character tables, all
// generated from CPython by unicode_tables_generate.py so that the C++ side sees the
// characters exactly as the Python reference does. Unicode version: see
// unicode_version() (14.0.0, Debian 12's CPython 3.11).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace diffnorm::unicode {

/// Per-code-point property bits (Python's view of the character).
enum PropertyFlag : std::uint8_t {
  kLetter = 1,               // general category L*
  kNumber = 2,               // general category N*
  kSpace = 4,                // str.isspace(), i.e. re's \s
  kWord = 8,                 // re's \w (str.isalnum() or '_')
  kCaseIgnorable = 16,       // Case_Ignorable, as CPython's final-sigma rule uses it
  kCased = 32,               // Cased, likewise
  kLetterIgnoringCase = 64,  // not a letter, but case-equivalent to one (U+0345)
  kMark = 128,               // general category M*
};

std::uint8_t properties(char32_t c);
inline bool has(char32_t c, PropertyFlag flag) { return (properties(c) & flag) != 0; }

/// Canonical combining class (0 for starters).
int combining_class(char32_t c);

/// One level of canonical decomposition: `first` (+ `second`, 0 if a singleton).
struct CanonicalDecomposition {
  char32_t code_point;
  char32_t first;
  char32_t second;
  bool composes;  // primary composite: NFC recomposes first+second into it
};
const CanonicalDecomposition* canonical_decomposition(char32_t c);
/// The primary composite of a starter pair, or 0.
char32_t canonical_composition(char32_t first, char32_t second);

/// A code point mapped to up to three code points (0-terminated when shorter).
struct CodePointMapping {
  char32_t code_point;
  char32_t to[3];
};
/// Full lower-case mapping of str.lower() (without the final-sigma context rule).
const CodePointMapping* lower_mapping(char32_t c);
/// ftfy's fix_character_width table (fullwidth/halfwidth forms, U+3000).
const CodePointMapping* width_mapping(char32_t c);

struct HtmlEntity {
  const char* name;   // "&amp;" (with '&' and ';')
  const char* value;  // UTF-8
};
/// ftfy's HTML entity table, or nullptr for an unknown name.
const HtmlEntity* html_entity(std::string_view name);
/// html.unescape's replacement for a numeric character reference.
std::u32string html_numeric_reference(std::uint64_t number);

/// A single-byte character map: ftfy's CHARMAP_ENCODINGS, in the order ftfy tries them.
struct SingleByteCodec {
  const char* name;
  char32_t byte_1a;     // what byte 0x1A decodes to (U+FFFD in the "sloppy-" codecs)
  char32_t high[128];   // what bytes 0x80..0xFF decode to
};
std::span<const SingleByteCodec> charmap_encodings();

const char* unicode_version();

namespace data {
struct PropertyRange {
  char32_t first;
  char32_t last;
  std::uint8_t value;
};
extern const char kUnicodeVersion[];
extern const PropertyRange kPropertyRanges[];
extern const std::size_t kPropertyRangeCount;
extern const PropertyRange kCombiningClassRanges[];
extern const std::size_t kCombiningClassRangeCount;
extern const CanonicalDecomposition kCanonicalDecompositions[];
extern const std::size_t kCanonicalDecompositionCount;
extern const CodePointMapping kLowerMappings[];
extern const std::size_t kLowerMappingCount;
extern const CodePointMapping kWidthMappings[];
extern const std::size_t kWidthMappingCount;
extern const HtmlEntity kHtmlEntities[];
extern const std::size_t kHtmlEntityCount;
extern const CodePointMapping kHtmlInvalidCharrefs[];
extern const std::size_t kHtmlInvalidCharrefCount;
extern const char32_t kHtmlInvalidCodepoints[];
extern const std::size_t kHtmlInvalidCodepointCount;
extern const SingleByteCodec kCharmapEncodings[];
extern const std::size_t kCharmapEncodingCount;
}  // namespace data

}  // namespace diffnorm::unicode
