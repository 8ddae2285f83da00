#include <gtest/gtest.h>

#include "diffnorm/arena.h"
#include "diffnorm/tensor.h"

using namespace diffnorm;

TEST(Tensor, EmptyIsAlignedAndContiguous) {
  Tensor t = Tensor::empty({2, 3, 5}, DType::BF16);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.strides(), (Shape{15, 5, 1}));
  EXPECT_EQ(t.nbytes(), 60u);
  EXPECT_EQ(t.describe(), "bf16[2,3,5]");
}

TEST(Tensor, NchwNhwcRoundTrip) {
  std::vector<float> v(2 * 3 * 4 * 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  Tensor x = Tensor::from_vector({2, 3, 4, 5}, v);
  Tensor nhwc = x.nchw_to_nhwc();
  EXPECT_EQ(nhwc.shape(), (Shape{2, 4, 5, 3}));
  // element (n=1, c=2, h=3, w=4)
  EXPECT_EQ(nhwc.item(((1 * 4 + 3) * 5 + 4) * 3 + 2), x.item(((1 * 3 + 2) * 4 + 3) * 5 + 4));
  EXPECT_EQ(nhwc.nhwc_to_nchw().to_vector(), v);
}

TEST(Tensor, ViewsReshapeNarrowSelect) {
  std::vector<float> v(24);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  Tensor x = Tensor::from_vector({2, 3, 4}, v);
  Tensor n = x.narrow(2, 1, 2);
  EXPECT_FALSE(n.is_contiguous());
  EXPECT_EQ(n.contiguous().to_vector(), (std::vector<float>{1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22}));
  EXPECT_EQ(x.select(0, 1).item(0), 12.0);
  EXPECT_EQ(x.reshape({-1, 4}).shape(), (Shape{6, 4}));
  EXPECT_THROW(x.reshape({5, -1}), Error);
  EXPECT_THROW(n.reshape({-1}), Error);
  EXPECT_THROW(x.data<bfloat16>(), Error);
}

TEST(Tensor, ConvertsBetweenFloatTypes) {
  Tensor x = Tensor::from_vector({3}, {1.0f, 1.00390625f, -65504.0f});
  Tensor b = x.to(DType::BF16);
  EXPECT_EQ(b.item(1), 1.0);  // tie rounds to even
  Tensor h = x.to(DType::F16);
  EXPECT_EQ(h.item(2), -65504.0);
  EXPECT_EQ(h.to(DType::F32).to_vector()[0], 1.0f);
}

TEST(Arena, ReusesMemoryAfterReset) {
  Arena arena;
  for (int round = 0; round < 3; ++round) {
    void* a = arena.allocate(1000);
    void* b = arena.allocate(5000);
    void* c = arena.allocate(100000);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
    EXPECT_NE(a, b);
    EXPECT_NE(b, c);
    arena.reset();
  }
  const std::size_t cap = arena.capacity();
  arena.allocate(1000);
  arena.allocate(5000);
  arena.allocate(100000);
  EXPECT_EQ(arena.capacity(), cap);  // settled: no new chunk in a repeated round
}
