// upsample_nearest2x, concat_channels and the in-place adds against libtorch. These ops
// move or add values without accumulation, so they must agree exactly (adds: one f32
// rounding of the same two operands, bit-identical to torch's float32 add).
#include "diffnorm/error.h"
#include "ops/concat_channels.h"
#include "ops/elementwise_add.h"
#include "ops/upsample_nearest.h"
#include "oracle.h"

namespace diffnorm::ops::test {
namespace F = torch::nn::functional;
namespace {

torch::Tensor to_torch32(const Tensor& t) { return to_torch64(t).to(torch::kFloat32); }

void expect_equal(const Tensor& got, const torch::Tensor& want, const char* what) {
  ASSERT_EQ(Shape(want.sizes().begin(), want.sizes().end()), got.shape()) << what;
  EXPECT_TRUE(torch::equal(to_torch32(got), want.to(torch::kFloat32))) << what;
}

TEST(UpsampleNearest2x, MatchesTorchInterpolate) {
  for (Shape shape : {Shape{1, 1, 1, 1}, Shape{3, 5, 7, 19}, Shape{2, 8, 6, 320}, Shape{1, 3, 1, 4}}) {
    SCOPED_TRACE(shape_str(shape));
    const Tensor x = random_tensor(shape);
    Tensor y = poisoned({shape[0], 2 * shape[1], 2 * shape[2], shape[3]});
    upsample_nearest2x(x, y);
    const torch::Tensor want =
        F::interpolate(to_torch32(x).permute({0, 3, 1, 2}),
                       F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest))
            .permute({0, 2, 3, 1});
    expect_equal(y, want, "upsample");
  }
  EXPECT_THROW(upsample_nearest2x(random_tensor({2, 3, 4})), Error);
}

TEST(ConcatChannels, MatchesTorchCatOnChannels) {
  for (auto [a_shape, cb] : {std::pair{Shape{3, 5, 7, 19}, int64_t{13}}, std::pair{Shape{1, 1, 1, 1}, int64_t{1}},
                             std::pair{Shape{2, 8, 6, 320}, int64_t{640}}, std::pair{Shape{2, 77, 5}, int64_t{3}}}) {
    SCOPED_TRACE(shape_str(a_shape));
    Shape b_shape = a_shape;
    b_shape.back() = cb;
    const Tensor a = random_tensor(a_shape), b = random_tensor(b_shape);
    Shape out = a_shape;
    out.back() += cb;
    Tensor y = poisoned(out);
    concat_channels(a, b, y);
    expect_equal(y, torch::cat({to_torch32(a), to_torch32(b)}, -1), "concat");
  }
  EXPECT_THROW(concat_channels(random_tensor({2, 3, 4, 5}), random_tensor({2, 3, 5, 5})), Error);
  EXPECT_THROW(concat_channels(random_tensor({2, 3, 4, 5}), random_tensor({2, 3, 4})), Error);
}

TEST(ElementwiseAdd, AddInPlaceMatchesTorch) {
  for (Shape shape : {Shape{1}, Shape{3, 5, 7, 19}, Shape{2, 64, 64, 40}}) {
    const Tensor a = random_tensor(shape), b = random_tensor(shape);
    Tensor x = a.clone();
    add_inplace(x, b);
    expect_equal(x, to_torch32(a) + to_torch32(b), "add");
  }
  Tensor x = random_tensor({2, 3});
  EXPECT_THROW(add_inplace(x, random_tensor({3, 2})), Error);
}

TEST(ElementwiseAdd, BroadcastOverSpatialMatchesDiffusersTembAdd) {
  for (Shape shape : {Shape{3, 5, 7, 19}, Shape{1, 1, 1, 1}, Shape{2, 32, 32, 320}, Shape{2, 77, 33}}) {
    SCOPED_TRACE(shape_str(shape));
    const Tensor a = random_tensor(shape);
    const Tensor v = random_tensor({shape.front(), shape.back()});
    Tensor x = a.clone();
    add_broadcast_inplace(x, v);
    // diffusers on NCHW: h + temb[:, :, None, None]; here channels last: v[:, None, ..., :].
    torch::Tensor vb = to_torch32(v);
    for (std::size_t i = 2; i < shape.size(); ++i) vb = vb.unsqueeze(1);
    expect_equal(x, to_torch32(a) + vb, "broadcast add");
  }
  Tensor x = random_tensor({2, 4, 4, 8});
  EXPECT_THROW(add_broadcast_inplace(x, random_tensor({2, 4})), Error);
  EXPECT_THROW(add_broadcast_inplace(x, random_tensor({1, 8})), Error);
}

}  // namespace
}  // namespace diffnorm::ops::test
