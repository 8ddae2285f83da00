// Every schedule of shared/fixtures/schedulers/schedulers.json (config x sampler x spacing x
// steps, from diffusers 0.23.1): timesteps, sigmas, init_noise_sigma and the
// scale_model_input factors, compared exactly.
#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fixture_paths.h"
#include "pipeline/noise_schedule.h"
#include "pipeline/sampler.h"

namespace diffnorm {
namespace {

using test::load_json_fixture;

const nlohmann::json& schedulers_json() {
  static const nlohmann::json j = load_json_fixture("schedulers/schedulers.json");
  return j;
}

TEST(NoiseSchedule, AlphasCumprodIsExact) {
  const auto expected = schedulers_json()["alphas_cumprod"].get<std::vector<double>>();
  NoiseSchedule schedule{NoiseScheduleConfig{}};
  ASSERT_EQ(schedule.alphas_cumprod().size(), expected.size());
  int mismatches = 0;
  for (std::size_t t = 0; t < expected.size(); ++t) mismatches += schedule.alphas_cumprod()[t] != float(expected[t]);
  EXPECT_EQ(mismatches, 0);
}

TEST(NoiseSchedule, ConfigFromJsonReadsTheFieldsAndRejectsUnknownValues) {
  const auto& cfg = schedulers_json()["configs"]["sdxl"];
  const NoiseScheduleConfig c = NoiseScheduleConfig::from_json(cfg);
  EXPECT_EQ(c.num_train_timesteps, 1000);
  EXPECT_EQ(c.steps_offset, 1);
  EXPECT_EQ(c.timestep_spacing, TimestepSpacing::Leading);
  EXPECT_EQ(c.prediction_type, PredictionType::Epsilon);
  EXPECT_DOUBLE_EQ(c.beta_start, 0.00085);
  nlohmann::json bad = cfg;
  bad["timestep_spacing"] = "uniform";
  EXPECT_THROW(NoiseScheduleConfig::from_json(bad), Error);
  bad = cfg;
  bad["trained_betas"] = std::vector<double>{0.1, 0.2};
  EXPECT_THROW(NoiseScheduleConfig::from_json(bad), Error);
}

TEST(SamplerSchedule, EveryFixtureEntryMatches) {
  const auto& entries = schedulers_json()["entries"];
  ASSERT_EQ(entries.size(), 2u * 9 * 3 * 6);
  int checked = 0;
  for (const auto& [key, e] : entries.items()) {
    SCOPED_TRACE(key);
    // key = <config>/<sampler>/<spacing>/<steps>
    const std::string sampler_name = key.substr(key.find('/') + 1, key.find('/', key.find('/') + 1) - key.find('/') - 1);
    const int steps = std::stoi(key.substr(key.rfind('/') + 1));
    const NoiseScheduleConfig config = NoiseScheduleConfig::from_json(e["config"]);
    const auto sampler = make_sampler(sampler_name, config, steps);

    const auto timesteps = e["timesteps"].get<std::vector<double>>();
    const std::string timestep_dtype = e["timesteps_dtype"];
    ASSERT_EQ(sampler->timesteps().size(), timesteps.size());
    for (std::size_t i = 0; i < timesteps.size(); ++i) {
      if (timestep_dtype == "float64")
        EXPECT_EQ(sampler->timesteps()[i], timesteps[i]) << "timestep " << i;
      else
        EXPECT_EQ(sampler->timesteps()[i], double(float(timesteps[i]))) << "timestep " << i;
    }
    if (e.contains("sigmas")) {
      const auto sigmas = e["sigmas"].get<std::vector<double>>();
      ASSERT_EQ(sampler->sigmas().size(), sigmas.size());
      for (std::size_t i = 0; i < sigmas.size(); ++i) EXPECT_EQ(sampler->sigmas()[i], float(sigmas[i])) << "sigma " << i;
    } else {
      EXPECT_TRUE(sampler->sigmas().empty());
    }
    EXPECT_EQ(sampler->init_noise_sigma(), float(e["init_noise_sigma"].get<double>()));
    EXPECT_EQ(sampler->order(), e["order"].get<int>() == 2 ? 2 : 1);

    const auto factors = e["scale_model_input_factor"].get<std::vector<double>>();
    ASSERT_EQ(factors.size(), timesteps.size());
    const Tensor ones = Tensor::full({1}, 1.0);
    for (std::size_t i = 0; i < factors.size(); ++i) {
      sampler->start_at(int(i));
      EXPECT_EQ(sampler->scale_model_input(ones).data<float>()[0], float(factors[i])) << "factor " << i;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 324);
}

TEST(SamplerSchedule, BadArgumentsThrowActionableErrors) {
  const NoiseScheduleConfig config;
  try {
    make_sampler("eulerr", config, 10);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("euler_ancestral"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_sampler("euler", config, 0), Error);
  EXPECT_THROW(make_sampler("ddim", config, 1001), Error);
  NoiseScheduleConfig sample_prediction;
  sample_prediction.prediction_type = PredictionType::Sample;
  EXPECT_THROW(make_sampler("euler", sample_prediction, 10), Error);
  NoiseScheduleConfig karras;
  karras.use_karras_sigmas = true;
  EXPECT_THROW(make_sampler("heun", karras, 10), Error);
  EXPECT_THROW(parse_prediction_type("x0"), Error);
}

}  // namespace
}  // namespace diffnorm
