// Conv2d against torch::nn::functional::conv2d in float64.
//
// Tolerance: each output is a sum of K = I*kH*kW products accumulated in fp32; its
// rounding error is bounded by ~K*eps32*sum|w*x| in the worst case and behaves like
// sqrt(K)*eps32*sum|w*x| for independent roundings. We allow 4*sqrt(K)*eps32 times the
// per-element magnitude conv(|x|, |w|) + |b| (plus the magnitude of dst when accumulating).
#include "ops/conv2d.h"

#include "diffnorm/error.h"
#include "oracle.h"

namespace diffnorm::ops::test {
namespace F = torch::nn::functional;
namespace {

struct ConvCase {
  int64_t n, h, w, in, out, k;
  Conv2dOptions opt;
};

std::string describe(const ConvCase& c) {
  return "N" + std::to_string(c.n) + " H" + std::to_string(c.h) + " W" + std::to_string(c.w) + " I" +
         std::to_string(c.in) + " O" + std::to_string(c.out) + " k" + std::to_string(c.k) + " s" +
         std::to_string(c.opt.stride) + " pad(t" + std::to_string(c.opt.pad_top) + " l" +
         std::to_string(c.opt.pad_left) + " b" + std::to_string(c.opt.pad_bottom) + " r" +
         std::to_string(c.opt.pad_right) + ")";
}

// Reference in float64 on NCHW: explicit zero pad, then an unpadded conv.
torch::Tensor reference(const torch::Tensor& x_nhwc, const torch::Tensor& w, const torch::Tensor& b,
                        const Conv2dOptions& o) {
  torch::Tensor x = x_nhwc.permute({0, 3, 1, 2});
  x = F::pad(x, F::PadFuncOptions({o.pad_left, o.pad_right, o.pad_top, o.pad_bottom}));
  return F::conv2d(x, w, F::Conv2dFuncOptions().bias(b).stride(o.stride)).permute({0, 2, 3, 1}).contiguous();
}

void run_case(const ConvCase& c, bool accumulate) {
  SCOPED_TRACE(describe(c) + (accumulate ? " accumulate" : ""));
  const Tensor x = random_tensor({c.n, c.h, c.w, c.in});
  const Tensor w = random_tensor({c.out, c.in, c.k, c.k});
  const Tensor b = random_tensor({c.out});
  const Conv2d conv(w, b, c.opt);
  const Shape out_shape = conv.output_shape(x.shape());

  const Tensor before = random_tensor(out_shape);
  Tensor y = accumulate ? before.clone() : poisoned(out_shape);
  conv.forward(x, y, accumulate);

  const torch::Tensor x64 = to_torch64(x), w64 = to_torch64(w), b64 = to_torch64(b);
  torch::Tensor want = reference(x64, w64, b64, c.opt);
  torch::Tensor scale = reference(x64.abs(), w64.abs(), b64.abs(), c.opt);
  if (accumulate) {
    want = want + to_torch64(before);
    scale = scale + to_torch64(before).abs();
  }
  const double k = double(c.in * c.k * c.k);
  expect_close(y, want, scale, 4 * std::sqrt(k + 1) * kEps32, "conv2d");
}

TEST(Conv2d, MatchesTorchOnRandomShapes) {
  for (int trial = 0; trial < 24; ++trial) {
    ConvCase c;
    c.n = trial % 2 ? 3 : 1;
    c.k = trial % 3 == 0 ? 1 : 3;
    c.h = rand_int(c.k, 13);
    c.w = rand_int(c.k, 13);
    c.in = rand_int(1, 40);
    c.out = rand_int(1, 40);
    const int64_t pad = c.k == 3 ? rand_int(0, 1) : 0;
    c.opt = Conv2dOptions::symmetric(pad, rand_int(1, 2));
    run_case(c, trial % 4 == 3);
  }
}

TEST(Conv2d, OneByOneSpatialInput) {
  run_case({3, 1, 1, 19, 21, 1, Conv2dOptions::symmetric(0)}, false);
  run_case({1, 1, 1, 7, 33, 3, Conv2dOptions::symmetric(1)}, false);
  run_case({3, 1, 1, 7, 33, 3, Conv2dOptions::symmetric(1, 2)}, true);
}

TEST(Conv2d, VaeEncoderAsymmetricPadding) {
  // diffusers Downsample2D(padding=0): F.pad(x, (0, 1, 0, 1)) then 3x3 stride 2.
  const Conv2dOptions vae{2, 0, 0, 1, 1};
  run_case({1, 9, 12, 24, 24, 3, vae}, false);
  run_case({3, 16, 7, 5, 13, 3, vae}, false);
  run_case({3, 2, 2, 17, 3, 3, vae}, true);
}

TEST(Conv2d, ChannelCountsOfStableDiffusion) {
  run_case({2, 8, 6, 4, 320, 3, Conv2dOptions::symmetric(1)}, false);     // conv_in
  run_case({2, 8, 6, 320, 4, 3, Conv2dOptions::symmetric(1)}, false);     // conv_out
  run_case({2, 8, 6, 320, 640, 1, Conv2dOptions::symmetric(0)}, true);    // conv_shortcut
  run_case({2, 9, 7, 320, 320, 3, Conv2dOptions::symmetric(1, 2)}, false);  // downsampler
}

TEST(Conv2d, ReusesOneConvForManyShapes) {
  const Tensor w = random_tensor({11, 6, 3, 3});
  const Tensor b = random_tensor({11});
  const Conv2d conv(w, b, Conv2dOptions::symmetric(1));
  for (auto [n, h, wd] : {std::tuple{1, 5, 5}, {3, 8, 2}, {1, 5, 5}, {2, 1, 9}}) {
    const Tensor x = random_tensor({n, h, wd, 6});
    Tensor y = poisoned(conv.output_shape(x.shape()));
    conv.forward(x, y);
    const torch::Tensor x64 = to_torch64(x), w64 = to_torch64(w), b64 = to_torch64(b);
    expect_close(y, reference(x64, w64, b64, conv.options()), reference(x64.abs(), w64.abs(), b64.abs(), conv.options()),
                 4 * std::sqrt(55.0) * kEps32, "reused conv");
  }
}

TEST(Conv2d, WithoutBias) {
  const Tensor x = random_tensor({2, 5, 4, 3});
  const Tensor w = random_tensor({5, 3, 1, 1});
  const Conv2d conv(w, Tensor(), {});
  Tensor y = poisoned({2, 5, 4, 5});
  conv.forward(x, y);
  const torch::Tensor zero = torch::zeros({5}, torch::kFloat64);
  const torch::Tensor x64 = to_torch64(x), w64 = to_torch64(w);
  expect_close(y, reference(x64, w64, zero, {}), reference(x64.abs(), w64.abs(), zero, {}), 4 * 2 * kEps32,
               "no bias");
}

TEST(Conv2d, RejectsMismatchedShapes) {
  const Conv2d conv(random_tensor({4, 3, 3, 3}), random_tensor({4}), Conv2dOptions::symmetric(1));
  Tensor wrong_channels = random_tensor({1, 5, 5, 4});
  EXPECT_THROW(conv.output_shape(wrong_channels.shape()), Error);
  Tensor x = random_tensor({1, 5, 5, 3});
  Tensor wrong_dst = Tensor::empty({1, 5, 4, 4});
  EXPECT_THROW(conv.forward(x, wrong_dst), Error);
  Tensor nchw_like = random_tensor({1, 3, 5, 5});
  EXPECT_THROW(conv.forward(nchw_like), Error);
  EXPECT_THROW(Conv2d(random_tensor({4, 3, 3}), Tensor(), {}), Error);
  EXPECT_THROW(Conv2d(random_tensor({4, 3, 3, 3}), random_tensor({5}), {}), Error);
}

}  // namespace
}  // namespace diffnorm::ops::test
