#include "diffnorm/arena.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#include "core/check.h"

namespace diffnorm {

namespace {
constexpr std::size_t kAlign = 64;
std::size_t round_up(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
}  // namespace

void* aligned_alloc64(std::size_t bytes) {
  void* p = std::aligned_alloc(kAlign, round_up(std::max<std::size_t>(bytes, 1)));
  DN_CHECK(p != nullptr, "out of memory allocating {} bytes", bytes);
  return p;
}

void aligned_free(void* p) { std::free(p); }

Arena::Arena(std::size_t initial_bytes) {
  if (initial_bytes > 0) add_chunk(initial_bytes);
}

void Arena::add_chunk(std::size_t bytes) {
  Chunk c;
  c.size = round_up(bytes);
  c.memory = {static_cast<std::byte*>(aligned_alloc64(c.size)),
              [](std::byte* p) { aligned_free(p); }};
  chunks_.push_back(std::move(c));
  used_in_last_ = 0;
}

void* Arena::allocate(std::size_t bytes) {
  bytes = round_up(std::max<std::size_t>(bytes, 1));
  if (chunks_.empty() || used_in_last_ + bytes > chunks_.back().size) {
    // Grow geometrically so that a workload settles after a few rounds.
    add_chunk(std::max(bytes, chunks_.empty() ? bytes : chunks_.back().size * 2));
  }
  void* p = chunks_.back().memory.get() + used_in_last_;
  used_in_last_ += bytes;
  used_total_ += bytes;
  peak_ = std::max(peak_, used_total_);
  return p;
}

void Arena::reset() {
  if (chunks_.size() > 1) {
    // Replace the chunks by one that holds the whole of the largest round so far.
    const std::size_t want = std::max(peak_, capacity());
    chunks_.clear();
    add_chunk(want);
  }
  used_in_last_ = 0;
  used_total_ = 0;
}

std::size_t Arena::capacity() const {
  std::size_t total = 0;
  for (const Chunk& c : chunks_) total += c.size;
  return total;
}

}  // namespace diffnorm
