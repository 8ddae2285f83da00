// AutoencoderKL against the diffusers fixture: encode (moments, mean, clamped logvar, std)
// and decode, with every act.* tensor of both halves (metric in fixture_compare.h).
#include <gtest/gtest.h>

#include "fixture_compare.h"
#include "models/model_io.h"

namespace diffnorm::models {
namespace {

TEST(AutoencoderKL, EncodeAndDecodeMatchDiffusers) {
  const test::ModelFixture fx("vae");
  const AutoencoderKL model = AutoencoderKL::load(fx.component_dir());
  NamedTensors got;
  const ActivationCapture capture = ActivationCapture::into(got);
  const NamedTensors in = fx.inputs();
  for (const NamedTensors& out : {run_vae_encode(model, in, &capture), run_vae_decode(model, in, &capture)})
    got.insert(out.begin(), out.end());
  fx.expect_all_match(got);
}

}  // namespace
}  // namespace diffnorm::models
