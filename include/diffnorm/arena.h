// Arena: a bump allocator for scratch memory, so that hot paths do not call the system
// allocator (fresh pages cost more than a normalization kernel on a large tensor).
// Blocks are 64-byte aligned and stay valid until reset(); after a reset the arena
// keeps one block as large as everything the last round used, so a repeated workload
// allocates nothing after its first round.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace diffnorm {

class Arena {
 public:
  Arena() = default;
  explicit Arena(std::size_t initial_bytes);
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  /// 64-byte aligned, uninitialised.
  void* allocate(std::size_t bytes);
  template <class T>
  T* allocate_array(std::size_t count) {
    return static_cast<T*>(allocate(count * sizeof(T)));
  }
  /// Forgets every allocation (the memory is kept for the next round).
  void reset();
  std::size_t capacity() const;
  /// The most this arena has had handed out at once.
  std::size_t peak() const { return peak_; }

 private:
  struct Chunk {
    std::unique_ptr<std::byte[], void (*)(std::byte*)> memory{nullptr, nullptr};
    std::size_t size = 0;
  };
  void add_chunk(std::size_t bytes);

  std::vector<Chunk> chunks_;
  std::size_t used_in_last_ = 0;  // bytes used in chunks_.back()
  std::size_t used_total_ = 0;
  std::size_t peak_ = 0;
};

/// 64-byte aligned allocation (throws diffnorm::Error when out of memory); free with aligned_free.
void* aligned_alloc64(std::size_t bytes);
void aligned_free(void* p);

}  // namespace diffnorm
