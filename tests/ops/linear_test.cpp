// Linear against torch::nn::functional::linear in float64.
// Tolerance: a K-term fp32 dot product, 4*sqrt(K)*eps32 times the per-element magnitude
// |x| |W|^T + |b| (see conv2d_test.cpp for the reasoning).
#include "ops/linear.h"

#include "diffnorm/error.h"
#include "oracle.h"

namespace diffnorm::ops::test {
namespace F = torch::nn::functional;
namespace {

void run_case(Shape x_shape, int64_t out, bool bias, bool accumulate) {
  const int64_t in = x_shape.back();
  SCOPED_TRACE("x " + shape_str(x_shape) + " out " + std::to_string(out) + (bias ? " bias" : "") +
               (accumulate ? " accumulate" : ""));
  const Tensor x = random_tensor(x_shape);
  const Tensor w = random_tensor({out, in});
  const Tensor b = bias ? random_tensor({out}) : Tensor();
  const Linear linear(w, b);
  const Shape y_shape = linear.output_shape(x_shape);
  const Tensor before = random_tensor(y_shape);
  Tensor y = accumulate ? before.clone() : poisoned(y_shape);
  linear.forward(x, y, accumulate);

  const torch::Tensor x64 = to_torch64(x), w64 = to_torch64(w);
  const torch::Tensor b64 = bias ? to_torch64(b) : torch::zeros({out}, torch::kFloat64);
  torch::Tensor want = F::linear(x64, w64, b64);
  torch::Tensor scale = F::linear(x64.abs(), w64.abs(), b64.abs());
  if (accumulate) {
    want = want + to_torch64(before);
    scale = scale + to_torch64(before).abs();
  }
  expect_close(y, want, scale, 4 * std::sqrt(double(in + 1)) * kEps32, "linear");
}

TEST(Linear, MatchesTorchOnRandomShapes) {
  for (int trial = 0; trial < 16; ++trial) {
    const int64_t batch = trial % 2 ? 3 : 1;
    const int64_t tokens = rand_int(1, 80);
    const int64_t in = rand_int(1, 100), out = rand_int(1, 100);
    run_case({batch, tokens, in}, out, trial % 3 != 0, trial % 4 == 1);
  }
}

TEST(Linear, OneRowAndOneDimensionalInput) {
  run_case({1, 1, 37}, 19, true, false);
  run_case({37}, 5, true, false);
  run_case({2, 1280}, 320, true, true);  // time embedding sizes
}

TEST(Linear, ReusesOneLinearForManyRowCounts) {
  const Tensor w = random_tensor({33, 17});
  const Tensor b = random_tensor({33});
  const Linear linear(w, b);
  for (int64_t rows : {5, 77, 5, 1, 256}) {
    const Tensor x = random_tensor({rows, 17});
    Tensor y = poisoned({rows, 33});
    linear.forward(x, y);
    const torch::Tensor x64 = to_torch64(x), w64 = to_torch64(w), b64 = to_torch64(b);
    expect_close(y, F::linear(x64, w64, b64), F::linear(x64.abs(), w64.abs(), b64.abs()),
                 4 * std::sqrt(18.0) * kEps32, "reused linear");
  }
}

TEST(Linear, RejectsMismatchedShapes) {
  const Linear linear(random_tensor({4, 3}), random_tensor({4}));
  EXPECT_THROW(linear.forward(random_tensor({2, 4})), Error);
  Tensor wrong = Tensor::empty({2, 3});
  EXPECT_THROW(linear.forward(random_tensor({2, 3}), wrong), Error);
  EXPECT_THROW(Linear(random_tensor({4, 3}), random_tensor({3})), Error);
  EXPECT_THROW(Linear(random_tensor({4, 3, 1}), Tensor()), Error);
}

}  // namespace
}  // namespace diffnorm::ops::test
