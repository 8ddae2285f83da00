// BufferPool: tensor memory is recycled. A freed buffer of at least kMinPooledBytes is kept
// in a free list of its size class and handed to the next allocation of that class (or of
// a class up to half its size), so a
// network evaluated again and again (a sampling loop) runs on memory it has already touched
// instead of fresh pages, which the kernel faults in and zero-fills on first touch (about a
// sixth of an SD UNet step when every activation is a new mapping).
//
// Memory bound: the pool holds at most kBufferPoolSlack × the most tensor memory ever in
// use at once (the high-water mark). An allocation the free lists cannot serve first evicts
// the longest-cached buffers until in-use + cached + the new buffer fits under that bound,
// so a change of workload (UNet, then VAE) reuses or returns memory instead of stacking the
// two working sets.
#pragma once

#include <cstddef>
#include <cstdint>

namespace diffnorm {

struct BufferPoolStats {
  std::size_t in_use_bytes = 0;   // handed out and not yet freed (pooled sizes only)
  std::size_t cached_bytes = 0;   // freed, kept for reuse
  std::size_t high_water_bytes = 0;
  uint64_t hits = 0, misses = 0;  // allocations served from the free lists / by the system
};

/// Room above the high-water mark for buffers of each size class: a repeated workload's
/// classes peak at different moments, so the sum of their peaks exceeds the peak of the sum.
inline constexpr double kBufferPoolSlack = 1.5;

/// Buffers smaller than this come from the system allocator directly.
inline constexpr std::size_t kMinPooledBytes = std::size_t(1) << 16;

struct PooledBuffer {
  void* memory;
  std::size_t capacity;  // >= the bytes asked for (a cached buffer may be up to twice as large)
};

/// 64-byte aligned buffer of at least `bytes` (throws diffnorm::Error when out of memory).
PooledBuffer pool_allocate(std::size_t bytes);
/// Returns a buffer from pool_allocate.
void pool_free(const PooledBuffer& buffer);

BufferPoolStats buffer_pool_stats();
/// Returns every cached buffer to the system (e.g. before handing memory to another program).
void release_cached_buffers();

}  // namespace diffnorm
