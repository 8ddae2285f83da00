// Every trajectory of shared/fixtures/schedulers/trajectories.safetensors (diffusers 0.23.1,
// synthetic model eps = model_input * (0.5 + t / 2000) + 0.1 * c, generator seeded 1234):
//  * replayed: from the recorded x_i and eps_i, scale_model_input and step reproduce
//    model_input_i and x_{i+1} (multistep history built from the recorded values);
//  * free-running: run_denoising_loop with the synthetic model from x0 reproduces every x_i;
//  * the generator draws (Euler: one unused per step, Euler-a: the step noise) line up.
#include <bit>
#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "diffnorm/safetensors.h"
#include "fixture_paths.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_loop.h"

namespace diffnorm {
namespace {

using test::fixture_path;
using test::load_json_fixture;

struct Comparison {
  int64_t mismatched_bits = 0;  // elements whose float32 bits differ
  double max_rel = 0;           // max |a - b| / max(|b|, 1e-3)
};

Comparison compare(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(actual.shape(), expected.shape());
  Comparison c;
  const float* a = actual.data<float>();
  const Tensor e_c = expected.contiguous();
  const float* e = e_c.data<float>();
  for (int64_t i = 0; i < actual.numel(); ++i) {
    c.mismatched_bits += std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(e[i]);
    c.max_rel = std::max(c.max_rel, std::abs(double(a[i]) - e[i]) / std::max(std::abs(double(e[i])), 1e-3));
  }
  return c;
}

// The synthetic model of the fixture: float32 tensor ops, the scalar computed in double.
Tensor synthetic_model(const Tensor& model_input, double t, const Tensor& c) {
  const float scale = float(0.5 + t / 2000.0);
  Tensor out = Tensor::empty(model_input.shape());
  const float *mi = model_input.data<float>(), *pc = c.data<float>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) o[i] = mi[i] * scale + 0.1f * pc[i];
  return out;
}

class SamplerTrajectory : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    json_ = new nlohmann::json(load_json_fixture("schedulers/schedulers.json"));
    file_ = new SafeTensorsFile(SafeTensorsFile::open(fixture_path("schedulers/trajectories.safetensors")));
  }
  static void TearDownTestSuite() {
    delete json_;
    delete file_;
  }
  static nlohmann::json* json_;
  static SafeTensorsFile* file_;
};
nlohmann::json* SamplerTrajectory::json_ = nullptr;
SafeTensorsFile* SamplerTrajectory::file_ = nullptr;

TEST_F(SamplerTrajectory, StartAndConstantAreTheFirstTwoDrawsOfSeed1234) {
  TorchGenerator gen(1234);
  EXPECT_EQ(compare(gen.randn({1, 4, 2, 3}), file_->get("x0")).mismatched_bits, 0);
  EXPECT_EQ(compare(gen.randn({1, 4, 2, 3}), file_->get("c")).mismatched_bits, 0);
}

TEST_F(SamplerTrajectory, EveryTrajectoryIsReproduced) {
  const Tensor x0 = file_->get("x0").contiguous();
  const Tensor c = file_->get("c").contiguous();
  const Shape latent = x0.shape();
  int trajectories = 0;
  for (const auto& [key, e] : (*json_)["entries"].items()) {
    if (!e.contains("trajectory") || !e["trajectory"].is_string() || key.rfind("sd15/", 0) != 0) continue;
    const std::string prefix = e["trajectory"];
    SCOPED_TRACE(prefix);
    const std::string sampler_name = key.substr(5, key.find('/', 5) - 5);
    const int steps = std::stoi(key.substr(key.rfind('/') + 1));
    const auto sampler = make_sampler(sampler_name, NoiseScheduleConfig::from_json(e["config"]), steps);
    const Tensor xs = file_->get(prefix + ".x"), inputs = file_->get(prefix + ".model_input"),
                 eps = file_->get(prefix + ".eps");
    const int n = int(sampler->timesteps().size());
    ASSERT_EQ(xs.size(0), n + 1);
    ASSERT_EQ(eps.size(0), n);

    // Replay from the recorded states: must be bit-exact.
    TorchGenerator gen(1234);
    sampler->start_at(0);
    for (int i = 0; i < n; ++i) {
      SCOPED_TRACE(fmt::format("step {}", i));
      const Tensor x = xs.select(0, i).contiguous();
      EXPECT_EQ(compare(sampler->scale_model_input(x), inputs.select(0, i)).mismatched_bits, 0);
      const Tensor next = sampler->step(eps.select(0, i).contiguous(), x, gen);
      const Comparison cmp = compare(next, xs.select(0, i + 1));
      EXPECT_EQ(cmp.mismatched_bits, 0) << "max rel " << cmp.max_rel;
    }
    // The generator consumed exactly the recorded draws, which equal fresh draws of seed 1234.
    const int draws = e["noise_draws_per_trajectory"].get<int>();
    TorchGenerator replay(1234);
    if (draws > 0) {
      const Tensor noise = file_->get(prefix + ".noise");
      ASSERT_EQ(noise.size(0), draws);
      for (int k = 0; k < draws; ++k)
        EXPECT_EQ(compare(replay.randn(latent), noise.select(0, k)).mismatched_bits, 0) << "draw " << k;
    }
    EXPECT_EQ(gen.random(), replay.random()) << "generator position after the trajectory";

    // Free-running with the synthetic model through the loop driver.
    TorchGenerator loop_gen(1234);
    int observed = 0;
    const Tensor final = run_denoising_loop(
        *sampler, x0, [&](const Tensor& mi, double t) { return synthetic_model(mi, t, c); }, loop_gen,
        full_window(*sampler), [&](int index, double, const Tensor& latents) {
          EXPECT_EQ(index, observed);
          const Comparison cmp = compare(latents, xs.select(0, index + 1));
          EXPECT_EQ(cmp.mismatched_bits, 0) << "free-running step " << index << " max rel " << cmp.max_rel;
          ++observed;
        });
    EXPECT_EQ(observed, n);
    ++trajectories;
  }
  EXPECT_EQ(trajectories, 9 * 3 * 4);
}

}  // namespace
}  // namespace diffnorm
