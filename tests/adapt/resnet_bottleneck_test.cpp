// The ResNet variants the AdaBN fixture does not cover - Bottleneck blocks, torchvision's
// 7x7 stride-2 stem with max-pool, odd spatial sizes, channels-last images, per-channel
// input normalisation - against PyTorch (a random model written by resnet_oracle.py with a
// fresh seed): eval logits, then update_bn (batches 7, 7, 6) statistics and logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "adapt/fixture_file.h"
#include "pipeline/adabn.h"

namespace diffnorm {
namespace {

namespace fs = std::filesystem;

double max_abs_diff(const Tensor& got, const std::vector<double>& want) {
  EXPECT_EQ(got.numel(), int64_t(want.size()));
  double worst = 0;
  for (int64_t i = 0; i < std::min<int64_t>(got.numel(), int64_t(want.size())); ++i)
    worst = std::max(worst, std::abs(got.item(i) - want[size_t(i)]));
  return worst;
}

TEST(ResNetBottleneck, MatchesPyTorch) {
  const unsigned seed = std::random_device{}() % 100000;
  const fs::path dir = fs::path(DN_BINARY_DIR) / "adapt_test_out" / "bottleneck";
  fs::remove_all(dir);
  const std::string cmd = "/usr/bin/python3 " + std::string(DN_SOURCE_DIR) + "/tests/adapt/resnet_oracle.py " +
                          dir.string() + " " + std::to_string(seed);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  SCOPED_TRACE("oracle seed " + std::to_string(seed));
  const test::FixtureFile expected((dir / "expected.safetensors").string());

  models::ResNet model = models::ResNet::load(dir.string());
  const models::ResNetConfig& c = model.config();
  EXPECT_EQ(c.block, models::ResNetBlock::Bottleneck);
  EXPECT_EQ(c.layers, (std::vector<int64_t>{1, 2, 1, 1}));
  EXPECT_EQ(c.out_channels, (std::vector<int64_t>{16, 32, 32, 64}));
  EXPECT_TRUE(c.stem_maxpool);
  EXPECT_EQ(c.stem_stride, 2);

  const pipeline::ImageSet set = pipeline::load_image_set((dir / "data.safetensors").string());
  ASSERT_EQ(set.images.shape(), (Shape{20, 45, 38, 3}));
  EXPECT_LE(max_abs_diff(pipeline::classify(model, set, 8), expected.values("logits.before")), 2e-4);

  pipeline::adabn_update_bn(model, set, 7);
  for (models::BatchNorm2d* bn : model.batch_norms()) {
    SCOPED_TRACE(bn->name);
    const std::vector<double> var = expected.values("update_bn." + bn->name + ".running_var");
    EXPECT_LE(max_abs_diff(bn->running_mean, expected.values("update_bn." + bn->name + ".running_mean")), 1e-4);
    for (int64_t i = 0; i < bn->channels(); ++i)
      EXPECT_NEAR(bn->running_var.item(i), var[size_t(i)], 1e-4 * var[size_t(i)] + 1e-6);
    EXPECT_EQ(bn->num_batches_tracked, 3);
  }
  EXPECT_LE(max_abs_diff(pipeline::classify(model, set, 8), expected.values("logits.update_bn")), 2e-4);
}

}  // namespace
}  // namespace diffnorm
