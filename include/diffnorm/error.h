// The one exception type of diffnorm: every failure at a boundary (files, shapes, CLI
// values, configs) throws it with a message that says what was expected, what was
// found and where.
#pragma once

#include <stdexcept>
#include <string>

namespace diffnorm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace diffnorm
