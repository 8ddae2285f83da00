#include "diffnorm/buffer_pool.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

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
  // Returns the buffer and the size class it belongs to (which pool_free must be given back).
  std::pair<void*, std::size_t> allocate(std::size_t bytes) {
    const std::size_t cls = size_class(bytes);
    {
      std::lock_guard lock(mutex_);
      // The smallest cached class that fits, up to twice the request: memory already held
      // (and faulted in) serves better than fresh pages.
      for (auto it = free_.lower_bound(cls); it != free_.end() && it->first <= 2 * cls; ++it) {
        if (it->second.empty()) continue;
        void* p = it->second.back().memory;  // the most recently freed: likely still in cache
        it->second.pop_back();
        stats_.cached_bytes -= it->first;
        note_in_use(it->first);
        ++stats_.hits;
        return {p, it->first};
      }
      evict_to_fit(cls);
      note_in_use(cls);
      ++stats_.misses;
    }
    try {
      return {aligned_alloc64(cls), cls};
    } catch (...) {  // out of memory: the buffer was never in use
      std::lock_guard lock(mutex_);
      stats_.in_use_bytes -= cls;
      throw;
    }
  }

  void free(void* p, std::size_t cls) {
    std::lock_guard lock(mutex_);
    free_[cls].push_back({p, ++clock_});
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
      for (const Cached& c : list) aligned_free(c.memory);
    free_.clear();
    stats_.cached_bytes = 0;
  }

 private:
  void note_in_use(std::size_t cls) {
    stats_.in_use_bytes += cls;
    stats_.high_water_bytes = std::max(stats_.high_water_bytes, stats_.in_use_bytes);
  }

  // Evicts the longest-cached buffers until in-use + cached + `cls` is within
  // kBufferPoolSlack × the high-water mark (or × the new in-use total, when that is higher).
  void evict_to_fit(std::size_t cls) {
    const double limit = kBufferPoolSlack * double(std::max(stats_.high_water_bytes, stats_.in_use_bytes + cls));
    while (stats_.cached_bytes > 0 && double(stats_.in_use_bytes + stats_.cached_bytes + cls) > limit) {
      auto oldest = free_.end();
      for (auto it = free_.begin(); it != free_.end(); ++it)
        if (!it->second.empty() && (oldest == free_.end() || it->second.front().freed < oldest->second.front().freed))
          oldest = it;
      aligned_free(oldest->second.front().memory);
      oldest->second.pop_front();
      stats_.cached_bytes -= oldest->first;
    }
  }

  struct Cached {
    void* memory;
    uint64_t freed;  // clock_ when it was freed
  };
  std::mutex mutex_;
  std::map<std::size_t, std::deque<Cached>> free_;  // size class -> cached buffers, oldest first
  uint64_t clock_ = 0;
  BufferPoolStats stats_;
};

// Never destroyed: tensors with static storage may be freed after main returns.
BufferPool& pool() {
  static auto* instance = new BufferPool;
  return *instance;
}

}  // namespace

PooledBuffer pool_allocate(std::size_t bytes) {
  if (bytes < kMinPooledBytes) return {aligned_alloc64(bytes), bytes};
  const auto [p, cls] = pool().allocate(bytes);
  return {p, cls};
}

void pool_free(const PooledBuffer& buffer) {
  if (buffer.capacity < kMinPooledBytes) {
    aligned_free(buffer.memory);
  } else {
    pool().free(buffer.memory, buffer.capacity);
  }
}

BufferPoolStats buffer_pool_stats() { return pool().stats(); }

void release_cached_buffers() { pool().release(); }

}  // namespace diffnorm
