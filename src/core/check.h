// Throwing checks with formatted messages (internal; the public type is diffnorm::Error).
#pragma once

#include <fmt/format.h>

#include "diffnorm/error.h"

namespace diffnorm {

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace diffnorm

/// Throws diffnorm::Error with the formatted message unless `cond` holds.
#define DN_CHECK(cond, ...)                        \
  do {                                             \
    if (!(cond)) ::diffnorm::fail(__VA_ARGS__);    \
  } while (0)
