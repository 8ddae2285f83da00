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
  const PooledBuffer a = pool_allocate(3 << 20);
  pool_free(a);
  const PooledBuffer b = pool_allocate((3 << 20) - 1000);  // same class
  EXPECT_EQ(a.memory, b.memory);
  pool_free(b);
  const BufferPoolStats after = buffer_pool_stats();
  EXPECT_EQ(after.hits - before.hits, 1u);
  EXPECT_EQ(after.misses - before.misses, 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.memory) % 64, 0u);
}

TEST(BufferPool, SmallBuffersBypassThePool) {
  const BufferPoolStats before = buffer_pool_stats();
  pool_free(pool_allocate(kMinPooledBytes - 1));
  const BufferPoolStats after = buffer_pool_stats();
  EXPECT_EQ(after.hits + after.misses, before.hits + before.misses);
}

TEST(BufferPool, ServesASmallerRequestFromALargerCachedBuffer) {
  release_cached_buffers();
  const PooledBuffer big = pool_allocate(std::size_t(10) << 20);
  pool_free(big);
  const PooledBuffer small = pool_allocate(std::size_t(6) << 20);  // fits, and 10 <= 2 * 6
  EXPECT_EQ(small.memory, big.memory);
  EXPECT_EQ(small.capacity, big.capacity);
  pool_free(small);
  const PooledBuffer tiny = pool_allocate(std::size_t(4) << 20);  // 10 > 2 * 4: a new buffer
  EXPECT_NE(tiny.memory, big.memory);
  pool_free(tiny);
}

// A new working set of other sizes must not stack on top of the cached old one: in-use +
// cached stays within kBufferPoolSlack × the high-water mark of in-use memory.
TEST(BufferPool, HoldsNoMoreThanTheHighWaterMark) {
  release_cached_buffers();
  std::vector<Tensor> first;
  // Larger than anything else in this test program, so that this test sets the mark.
  for (int i = 0; i < 4; ++i) first.push_back(Tensor::empty({16 << 20}));  // 64 MiB each (untouched)
  first.clear();
  std::vector<Tensor> second;
  for (int i = 0; i < 4; ++i) second.push_back(Tensor::empty({20 << 20}));  // 80 MiB each, another class
  const BufferPoolStats s = buffer_pool_stats();
  EXPECT_LE(double(s.in_use_bytes + s.cached_bytes), kBufferPoolSlack * double(s.high_water_bytes));
  EXPECT_LT(s.in_use_bytes + s.cached_bytes, 4 * (std::size_t(64) << 20) + s.in_use_bytes);  // some evicted
  EXPECT_GT(s.in_use_bytes, 0u);
  second.clear();
  release_cached_buffers();
  EXPECT_EQ(buffer_pool_stats().cached_bytes, 0u);
}

}  // namespace
}  // namespace diffnorm
