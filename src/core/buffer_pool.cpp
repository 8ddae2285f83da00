#include "diffnorm/buffer_pool.h"

#include <bit>
#include <map>
#include <mutex>
#include <vector>

#include "diffnorm/arena.h"

namespace diffnorm {
namespace {

// Size classes: 8 per power of two, so a buffer is at most 12.5% larger than asked for.
std::size_t size_class(std::size_t bytes) {
  const int octave = std::bit_width(bytes) - 1;
  const std::size_t step = std::size_t(1) << (octave > 3 ? octave - 3 : 0);
  return (bytes + step - 1) / step * step;
}

class BufferPool {
 public:
  void* allocate(std::size_t bytes) {
    const std::size_t cls = size_class(bytes);
    {
      std::lock_guard lock(mutex_);
      auto it = free_.find(cls);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= cls;
        note_in_use(cls);
        ++stats_.hits;
        return p;
      }
      evict_to_fit(cls);
      note_in_use(cls);
      ++stats_.misses;
    }
    return aligned_alloc64(cls);
  }

  void free(void* p, std::size_t bytes) {
    const std::size_t cls = size_class(bytes);
    std::lock_guard lock(mutex_);
    free_[cls].push_back(p);
    stats_.in_use_bytes -= cls;
    stats_.cached_bytes += cls;
  }

  BufferPoolStats stats() {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  void release() {
    std::lock_guard lock(mutex_);
    for (auto& [cls, list] : free_)
      for (void* p : list) aligned_free(p);
    free_.clear();
    stats_.cached_bytes = 0;
  }

 private:
  void note_in_use(std::size_t cls) {
    stats_.in_use_bytes += cls;
    stats_.high_water_bytes = std::max(stats_.high_water_bytes, stats_.in_use_bytes);
  }

  // Evicts cached buffers, largest first, until in-use + cached + `cls` is within the
  // high-water mark (or as high as the new in-use total, when that sets a new mark).
  void evict_to_fit(std::size_t cls) {
    const std::size_t limit = std::max(stats_.high_water_bytes, stats_.in_use_bytes + cls);
    for (auto it = free_.rbegin(); it != free_.rend() && stats_.in_use_bytes + stats_.cached_bytes + cls > limit;) {
      auto& list = it->second;
      while (!list.empty() && stats_.in_use_bytes + stats_.cached_bytes + cls > limit) {
        aligned_free(list.back());
        list.pop_back();
        stats_.cached_bytes -= it->first;
      }
      ++it;
    }
  }

  std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_;  // size class -> cached buffers
  BufferPoolStats stats_;
};

// Never destroyed: tensors with static storage may be freed after main returns.
BufferPool& pool() {
  static auto* instance = new BufferPool;
  return *instance;
}

}  // namespace

void* pool_allocate(std::size_t bytes) {
  return bytes < kMinPooledBytes ? aligned_alloc64(bytes) : pool().allocate(bytes);
}

void pool_free(void* p, std::size_t bytes) {
  if (bytes < kMinPooledBytes) {
    aligned_free(p);
  } else {
    pool().free(p, bytes);
  }
}

BufferPoolStats buffer_pool_stats() { return pool().stats(); }

void release_cached_buffers() { pool().release(); }

}  // namespace diffnorm
