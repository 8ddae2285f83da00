// Memory for benchmark operands: one pre-faulted, 64-byte-aligned pool reused by every
// case, so that no timed call pays for fresh pages.
#pragma once

#include <cstddef>
#include <memory>

namespace diffnorm::cli {

class BenchPool {
 public:
  /// At least `bytes` of touched memory (contents unspecified). Grows when asked for more,
  /// which invalidates earlier pointers.
  std::byte* get(std::size_t bytes);

 private:
  std::unique_ptr<std::byte, void (*)(void*)> memory_{nullptr, nullptr};
  std::size_t size_ = 0;
};

}  // namespace diffnorm::cli
