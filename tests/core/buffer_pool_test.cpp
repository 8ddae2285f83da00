#include "diffnorm/buffer_pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "diffnorm/tensor.h"

namespace diffnorm {
namespace {

TEST(BufferPool, ReusesAFreedBufferOfTheSameSizeClass) {
  release_cached_buffers();
  const BufferPoolStats before = buffer_pool_stats();
  void* a = pool_allocate(3 << 20);
  pool_free(a, 3 << 20);
  void* b = pool_allocate((3 << 20) - 1000);  // same class
  EXPECT_EQ(a, b);
  pool_free(b, (3 << 20) - 1000);
  const BufferPoolStats after = buffer_pool_stats();
  EXPECT_EQ(after.hits - before.hits, 1u);
  EXPECT_EQ(after.misses - before.misses, 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
}

TEST(BufferPool, SmallBuffersBypassThePool) {
  const BufferPoolStats before = buffer_pool_stats();
  void* p = pool_allocate(kMinPooledBytes - 1);
  pool_free(p, kMinPooledBytes - 1);
  const BufferPoolStats after = buffer_pool_stats();
  EXPECT_EQ(after.hits + after.misses, before.hits + before.misses);
}

// A new working set of other sizes must not stack on top of the cached old one: in-use +
// cached stays within the high-water mark of in-use memory.
TEST(BufferPool, HoldsNoMoreThanTheHighWaterMark) {
  release_cached_buffers();
  std::vector<Tensor> first;
  // Larger than anything else in this test program, so that this test sets the mark.
  for (int i = 0; i < 4; ++i) first.push_back(Tensor::empty({16 << 20}));  // 64 MiB each (untouched)
  first.clear();
  const std::size_t mark = buffer_pool_stats().high_water_bytes;
  std::vector<Tensor> second;
  for (int i = 0; i < 3; ++i) second.push_back(Tensor::empty({20 << 20}));  // 80 MiB each, another class
  const BufferPoolStats s = buffer_pool_stats();
  EXPECT_LE(s.in_use_bytes + s.cached_bytes, mark);
  EXPECT_GT(s.in_use_bytes, 0u);
  second.clear();
  release_cached_buffers();
  EXPECT_EQ(buffer_pool_stats().cached_bytes, 0u);
}

}  // namespace
}  // namespace diffnorm
