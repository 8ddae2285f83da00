// Activations against libtorch in float64.
// Tolerance, relative to the exact value: a few ulp for the arithmetic and exp (1 ulp),
// plus the propagation of rounding the exponent's argument: exp(u) with u carrying
// |u|*eps32 error is off by |u|*eps32 relatively (u = |a x| for the sigmoids, x^2/2 for
// gelu's erfc). An absolute floor of 1e-37 covers results in the f32 subnormal range.
#include "ops/activations.h"

#include "diffnorm/error.h"
#include "oracle.h"

namespace diffnorm::ops::test {
namespace F = torch::nn::functional;
namespace {

// Random values over the range where the activations bend, plus the extremes.
Tensor activation_inputs(Shape shape) {
  std::vector<int64_t> s(shape.begin(), shape.end());
  torch::Tensor x = torch::randn(s, torch::kFloat64) * 4;
  x = x.flatten();
  const std::vector<double> special = {0.0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6, 5.0, -5.0, 12.0, -12.0,
                                       30.0, -30.0, 60.0, -60.0, 88.0, -88.0, 150.0, -150.0, 1e4, -1e4};
  for (std::size_t i = 0; i < special.size() && int64_t(i) < x.numel(); ++i) x[int64_t(i)] = special[i];
  return from_torch(x.view(s));
}

// Exact GELU in float64 written with erfc: torch's gelu (x/2 (1 + erf(x/sqrt 2))) rounds
// to -0 below x ~ -8.3 even in float64, while the true value is still a normal f32 there.
torch::Tensor gelu_reference(const torch::Tensor& x) { return 0.5 * x * torch::erfc(-x / std::sqrt(2.0)); }

void check(const Tensor& got, const torch::Tensor& want, const torch::Tensor& ulps, const char* what) {
  expect_close(got, want, (ulps * want.abs() + 1e-37 / kEps32), kEps32, what);
}

TEST(Activations, SiluMatchesTorch) {
  for (Shape shape : {Shape{3, 7, 5, 19}, Shape{1}, Shape{2, 77, 37}, Shape{40000}}) {
    const Tensor x = activation_inputs(shape);
    Tensor y = poisoned(shape);
    silu(x, y);
    const torch::Tensor x64 = to_torch64(x);
    check(y, torch::silu(x64), 8 + x64.abs(), "silu");
  }
}

TEST(Activations, QuickGeluMatchesTorch) {
  const Tensor x = activation_inputs({2, 77, 37});
  const Tensor y = quick_gelu(x);
  const torch::Tensor x64 = to_torch64(x);
  check(y, x64 * torch::sigmoid(1.702 * x64), 8 + 1.702 * x64.abs(), "quick_gelu");
}

TEST(Activations, GeluIsExactErfForm) {
  for (Shape shape : {Shape{3, 5, 21}, Shape{33000}}) {
    const Tensor x = activation_inputs(shape);
    Tensor y = poisoned(shape);
    gelu(x, y);
    const torch::Tensor x64 = to_torch64(x);
    check(y, gelu_reference(x64), 8 + x64.square(), "gelu");
    // Where torch's own float64 gelu is accurate (|x| < 5), it agrees too.
    const torch::Tensor mid = x64.abs() < 5;
    EXPECT_LE((to_torch64(y) - F::gelu(x64, F::GELUFuncOptions().approximate("none"))).masked_select(mid).abs().max().item<double>(),
              5e-6);
  }
}

TEST(Activations, InPlace) {
  const Tensor x = activation_inputs({5, 13});
  Tensor y = x.clone();
  silu(y, y);
  const torch::Tensor x64 = to_torch64(x);
  check(y, torch::silu(x64), 8 + x64.abs(), "silu in place");
}

TEST(Activations, GegluSplitsTheLastDimension) {
  for (Shape shape : {Shape{3, 11, 2 * 37}, Shape{1, 1, 2}, Shape{2, 300, 2 * 160}}) {
    const Tensor x = activation_inputs(shape);
    Shape out = shape;
    out.back() /= 2;
    Tensor y = poisoned(out);
    geglu(x, y);
    const auto halves = to_torch64(x).chunk(2, -1);
    const torch::Tensor g = halves[1];
    // h * gelu(g): gelu's error plus one rounding of the product.
    check(y, halves[0] * gelu_reference(g), 9 + g.square(), "geglu");
  }
}

TEST(Activations, RejectBadShapes) {
  Tensor y = Tensor::empty({4});
  EXPECT_THROW(silu(random_tensor({5}), y), Error);
  EXPECT_THROW(geglu(random_tensor({2, 5})), Error);
  Tensor wrong = Tensor::empty({2, 3});
  EXPECT_THROW(geglu(random_tensor({2, 8}), wrong), Error);
  EXPECT_THROW(gelu(Tensor::empty({4}, DType::F16)), Error);
}

}  // namespace
}  // namespace diffnorm::ops::test
