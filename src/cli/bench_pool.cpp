#include "cli/bench_pool.h"

#include <cstring>

#include "diffnorm/arena.h"

namespace diffnorm::cli {

std::byte* BenchPool::get(std::size_t bytes) {
  if (bytes > size_) {
    memory_.reset();
    memory_ = {static_cast<std::byte*>(aligned_alloc64(bytes)), aligned_free};
    std::memset(memory_.get(), 0, bytes);  // fault every page in now
    size_ = bytes;
  }
  return memory_.get();
}

}  // namespace diffnorm::cli
