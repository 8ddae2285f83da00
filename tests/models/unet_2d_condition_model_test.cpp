// UNet2DConditionModel against the diffusers fixtures (SD1.5: conv projections, one head
// count; SD2.1: linear projections, per-level heads; SDXL base and refiner: text_time
// added embedding, per-level transformer depth): every out.* and act.* tensor (metric in
// fixture_compare.h).
#include <gtest/gtest.h>

#include "fixture_compare.h"
#include "models/model_io.h"

namespace diffnorm::models {
namespace {

void check_unet(const std::string& name) {
  const test::ModelFixture fx(name);
  const UNet2DConditionModel model = UNet2DConditionModel::load(fx.component_dir());
  NamedTensors got;
  const ActivationCapture capture = ActivationCapture::into(got);
  const NamedTensors out = run_unet(model, fx.inputs(), &capture);
  got.insert(out.begin(), out.end());
  fx.expect_all_match(got);

  // Without a capture the fused paths run: the output must agree with the captured run.
  const Tensor plain = run_unet(model, fx.inputs()).at("out.sample");
  const std::vector<float> a = plain.to_vector(), b = out.at("out.sample").to_vector();
  ASSERT_EQ(a.size(), b.size());
  double max_diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, double(std::abs(a[i] - b[i])));
  EXPECT_LE(max_diff, 1e-6);
}

TEST(UNet2DConditionModel, Sd15MatchesDiffusers) { check_unet("sd15"); }
TEST(UNet2DConditionModel, Sd21MatchesDiffusers) { check_unet("sd21"); }
TEST(UNet2DConditionModel, SdxlMatchesDiffusers) { check_unet("sdxl"); }
TEST(UNet2DConditionModel, SdxlRefinerMatchesDiffusers) { check_unet("sdxl_refiner"); }

}  // namespace
}  // namespace diffnorm::models
