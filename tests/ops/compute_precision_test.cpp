// Conv2d and Linear with ComputePrecision::BF16 against float64 torch on the bf16-rounded
// operands: the only rounding diffnorm adds is to the inputs and weights, the products are
// accumulated in fp32, so the result must match the float64 product of the rounded
// operands as tightly as the fp32 path matches the exact one.
#include "ops/compute_precision.h"

#include <oneapi/dnnl/dnnl.hpp>

#include "diffnorm/error.h"
#include "ops/conv2d.h"
#include "ops/linear.h"
#include "oracle.h"

namespace diffnorm::ops::test {
namespace F = torch::nn::functional;
namespace {

// Sets the precision for one test and restores fp32 after it.
struct PrecisionScope {
  explicit PrecisionScope(ComputePrecision p) { set_compute_precision(p); }
  ~PrecisionScope() { set_compute_precision(ComputePrecision::F32); }
};

bool cpu_has_bf16() { return dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core; }

torch::Tensor rounded_to_bf16(const Tensor& t) { return to_torch64(t).to(torch::kBFloat16).to(torch::kFloat64); }

TEST(ComputePrecision, ParsesTheCliNames) {
  EXPECT_EQ(parse_compute_precision("fp32"), ComputePrecision::F32);
  EXPECT_EQ(parse_compute_precision("bf16"), ComputePrecision::BF16);
  EXPECT_THROW(parse_compute_precision("fp8"), Error);
}

TEST(ComputePrecision, ToBf16RoundsToNearestEven) {
  const Tensor x = random_tensor({3, 70001});  // several conversion chunks
  const Tensor y = to_bf16(x);
  ASSERT_EQ(y.dtype(), DType::BF16);
  const torch::Tensor got = to_torch64(y.to(DType::F32));
  EXPECT_TRUE(torch::equal(got, rounded_to_bf16(x)));
}

TEST(ComputePrecision, Bf16LinearIsTheFp32ProductOfRoundedOperands) {
  if (!cpu_has_bf16()) GTEST_SKIP() << "no AVX-512: the bf16 path is refused (see RefusedWithoutAvx512)";
  const PrecisionScope bf16(ComputePrecision::BF16);
  for (int trial = 0; trial < 8; ++trial) {
    const int64_t rows = rand_int(1, 300), in = rand_int(1, 200), out = rand_int(1, 150);
    SCOPED_TRACE("rows " + std::to_string(rows) + " in " + std::to_string(in) + " out " + std::to_string(out));
    const Tensor x = random_tensor({rows, in}), w = random_tensor({out, in}), b = random_tensor({out});
    const Linear linear(w, b);
    const Tensor before = random_tensor({rows, out});
    Tensor y = trial % 2 ? before.clone() : poisoned({rows, out});
    linear.forward(x, y, trial % 2 == 1);
    const torch::Tensor x16 = rounded_to_bf16(x), w16 = rounded_to_bf16(w), b64 = to_torch64(b);
    torch::Tensor want = F::linear(x16, w16, b64), scale = F::linear(x16.abs(), w16.abs(), b64.abs());
    if (trial % 2) want = want + to_torch64(before), scale = scale + to_torch64(before).abs();
    expect_close(y, want, scale, 4 * std::sqrt(double(in + 1)) * kEps32, "bf16 linear");
  }
}

TEST(ComputePrecision, Bf16Conv2dIsTheFp32ProductOfRoundedOperands) {
  if (!cpu_has_bf16()) GTEST_SKIP() << "no AVX-512: the bf16 path is refused (see RefusedWithoutAvx512)";
  const PrecisionScope bf16(ComputePrecision::BF16);
  for (int trial = 0; trial < 8; ++trial) {
    const int64_t n = rand_int(1, 2), h = rand_int(3, 17), w = rand_int(3, 17), in = rand_int(1, 70),
                  out = rand_int(1, 70), k = trial % 3 ? 3 : 1;
    const Conv2dOptions opt = Conv2dOptions::symmetric(k / 2, trial % 4 == 3 ? 2 : 1);
    SCOPED_TRACE("N" + std::to_string(n) + " H" + std::to_string(h) + " W" + std::to_string(w) + " I" +
                 std::to_string(in) + " O" + std::to_string(out) + " k" + std::to_string(k));
    const Tensor x = random_tensor({n, h, w, in}), wt = random_tensor({out, in, k, k}), b = random_tensor({out});
    const Conv2d conv(wt, b, opt);
    Tensor y = poisoned(conv.output_shape(x.shape()));
    conv.forward(x, y);
    const torch::Tensor x16 = rounded_to_bf16(x).permute({0, 3, 1, 2}), w16 = rounded_to_bf16(wt);
    auto conv64 = [&](const torch::Tensor& xx, const torch::Tensor& ww, const torch::Tensor& bb) {
      return F::conv2d(xx, ww, F::Conv2dFuncOptions().bias(bb).stride(opt.stride).padding(opt.pad_top))
          .permute({0, 2, 3, 1})
          .contiguous();
    };
    const torch::Tensor b64 = to_torch64(b);
    expect_close(y, conv64(x16, w16, b64), conv64(x16.abs(), w16.abs(), b64.abs()),
                 4 * std::sqrt(double(in * k * k + 1)) * kEps32, "bf16 conv2d");
  }
}

// Where oneDNN has no bf16 kernels, building an op says so instead of failing later.
TEST(ComputePrecision, RefusedWithoutAvx512) {
  if (cpu_has_bf16()) GTEST_SKIP() << "this CPU has AVX-512: covered by the bf16 tests";
  const PrecisionScope bf16(ComputePrecision::BF16);
  EXPECT_THROW(Linear(random_tensor({4, 4}), random_tensor({4})), Error);
}

}  // namespace
}  // namespace diffnorm::ops::test
