// Unicode NFC normalisation and Python's str.lower(), over code points.
#pragma once

#include <string>
#include <string_view>

namespace diffnorm::unicode {

/// Canonical decomposition, canonical ordering, canonical composition (UAX #15).
std::u32string nfc(std::u32string_view text);

/// CPython's str.lower(): full lower-case mappings (İ -> i + U+0307) and the
/// Final_Sigma rule for Σ.
std::u32string lower(std::u32string_view text);

}  // namespace diffnorm::unicode
