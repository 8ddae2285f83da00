// CLIPTextModel / CLIPTextModelWithProjection against the transformers fixtures: every
// out.* and act.* tensor (metric in fixture_compare.h) and the pooled positions.
#include <gtest/gtest.h>

#include "fixture_compare.h"
#include "models/model_io.h"

namespace diffnorm::models {
namespace {

void check_text_encoder(const std::string& name, bool with_projection) {
  const test::ModelFixture fx(name);
  const CLIPTextModel model = CLIPTextModel::load(fx.component_dir());
  EXPECT_EQ(model.config().with_projection, with_projection);
  NamedTensors got;
  const ActivationCapture capture = ActivationCapture::into(got);
  const NamedTensors out = run_text_encoder(model, fx.inputs(), &capture);
  got.insert(out.begin(), out.end());
  EXPECT_EQ(out.count("out.text_embeds"), with_projection ? 1u : 0u);
  fx.expect_all_match(got);

  const Tensor ref_index = fx.get("in.pooled_index");
  const Tensor& index = out.at("out.pooled_index");
  ASSERT_EQ(index.shape(), ref_index.shape());
  for (int64_t i = 0; i < index.numel(); ++i) EXPECT_EQ(index.item(i), ref_index.item(i)) << "prompt " << i;
}

TEST(CLIPTextModel, ClipLMatchesTransformers) { check_text_encoder("clip_l", false); }
TEST(CLIPTextModel, ClipGWithProjectionMatchesTransformers) { check_text_encoder("clip_g", true); }

}  // namespace
}  // namespace diffnorm::models
