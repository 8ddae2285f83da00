// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace diffnorm {

/// Byte offset of the first byte that does not start a valid UTF-8 sequence, if any.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

}  // namespace diffnorm
