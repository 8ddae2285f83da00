// The sampling part of every end-to-end generation case in shared/fixtures/pipelines/cases
// (diffusers 0.23.1 pipeline calls): with the recorded guided UNet outputs as the denoiser,
// the sampler loop must reproduce the generator draws, the initial latents (txt2img noise,
// img2img add_noise), the window of timesteps (img2img strength, SDXL denoising_end /
// refiner denoising_start), every UNet input and every step's latents, bit for bit.
#include <bit>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "diffnorm/safetensors.h"
#include "fixture_paths.h"
#include "pipeline/pipeline_models.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_loop.h"
#include "pipeline/timesteps_window.h"

namespace diffnorm {
namespace {

using test::fixture_path;
using test::load_json_fixture;

int64_t bit_mismatches(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return -1;
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  int64_t bad = 0;
  for (int64_t i = 0; i < ac.numel(); ++i)
    bad += std::bit_cast<uint32_t>(ac.data<float>()[i]) != std::bit_cast<uint32_t>(bc.data<float>()[i]);
  return bad;
}

// The sampler generate would pick for the case's scheduler class (one mapping, the library's).
std::string sampler_name_for(const nlohmann::json& scheduler) {
  return sampler_for_scheduler_class(scheduler["class"], scheduler["config"].value("use_karras_sigmas", false));
}

void check_stage(const std::string& case_name, const nlohmann::json& c, const std::string& prefix,
                 const nlohmann::json& stage, const SafeTensorsFile& tensors) {
  SCOPED_TRACE(case_name + " stage '" + prefix + "'");
  const nlohmann::json& call = stage["call"];
  const auto sampler = make_sampler(sampler_name_for(stage["scheduler"]),
                                    NoiseScheduleConfig::from_json(stage["scheduler"]["config"]),
                                    call["num_inference_steps"].get<int>());
  EXPECT_EQ(sampler->init_noise_sigma(), float(stage["scheduler"]["init_noise_sigma"].get<double>()));

  TimestepWindow window = full_window(*sampler);
  // A stage is img2img when it noised image latents. (sd15_img2img_euler passes strength but
  // its recorded run is a txt2img one: prepare_latents of StableDiffusionPipeline drew the
  // initial noise, all 10 timesteps ran, and there are no image latents; it is checked as what
  // it recorded.)
  const bool img2img = tensors.contains(prefix + "latents.image");
  if (img2img && call.contains("strength") && !call["strength"].is_null())
    window = img2img_window(*sampler, call["strength"].get<double>());
  if (call.contains("denoising_end") && !call["denoising_end"].is_null())
    window = denoising_end_window(*sampler, call["denoising_end"].get<double>());
  if (call.contains("denoising_start") && !call["denoising_start"].is_null())
    window = denoising_start_window(*sampler, call["denoising_start"].get<double>());
  const auto used = stage["timesteps_used"].get<std::vector<double>>();
  ASSERT_EQ(window.size(), int(used.size()));
  for (int i = 0; i < window.size(); ++i)
    EXPECT_EQ(float(sampler->timesteps()[window.begin + i]), float(used[i])) << "timestep " << i;

  // Draws before the loop (initial noise, VAE sample, add_noise noise) from a fresh generator.
  const uint64_t seed = prefix == "refiner." ? c["params"]["refiner_seed"].get<uint64_t>()
                                             : c["params"]["seed"].get<uint64_t>();
  TorchGenerator gen(seed), replay(seed);
  Tensor last_pre_loop_draw;
  int pre_loop_draws = 0;
  for (const auto& d : stage["draws"]) {
    const Tensor expected = tensors.get(prefix + fmt::format("rng.draw.{}", d["index"].get<int>()));
    const Tensor drawn = replay.randn(d["shape"].get<Shape>());
    EXPECT_EQ(bit_mismatches(drawn, expected), 0) << "draw " << d["index"];
    if (d["caller"].get<std::string>().rfind("scheduling_", 0) != 0) {
      last_pre_loop_draw = gen.randn(d["shape"].get<Shape>());
      ++pre_loop_draws;
    }
  }
  const Tensor initial = tensors.get(prefix + "latents.initial");
  if (img2img) {  // noise the image latents at the first timestep of the window
    EXPECT_EQ(bit_mismatches(sampler->add_noise(tensors.get(prefix + "latents.image"), last_pre_loop_draw,
                                                window.begin),
                             initial),
              0);
  } else if (pre_loop_draws == 1) {  // txt2img
    TorchGenerator fresh(seed);
    EXPECT_EQ(bit_mismatches(initial_latents(*sampler, initial.shape(), fresh), initial), 0);
  }

  int step = 0;
  const Tensor final = run_denoising_loop(
      *sampler, initial.contiguous(),
      [&](const Tensor& model_input, double t) {
        EXPECT_EQ(float(t), float(used.at(step))) << "step " << step;
        EXPECT_EQ(bit_mismatches(model_input, tensors.get(prefix + fmt::format("step.{}.model_input", step))), 0)
            << "model input of step " << step;
        return tensors.get(prefix + fmt::format("step.{}.noise_pred", step)).contiguous();
      },
      gen, window, [&](int, double, const Tensor& latents) {
        EXPECT_EQ(bit_mismatches(latents, tensors.get(prefix + fmt::format("step.{}.latents", step))), 0)
            << "latents after step " << step;
        ++step;
      });
  EXPECT_EQ(step, window.size());
  EXPECT_EQ(gen.random(), replay.random()) << "generator position after the stage";
}

TEST(PipelineCaseSampling, EveryCaseStageIsReproducedBitExactly) {
  const std::string cases_dir = fixture_path("pipelines/cases");
  ASSERT_TRUE(std::filesystem::is_directory(cases_dir)) << cases_dir;
  int stages = 0;
  for (const auto& entry : std::filesystem::directory_iterator(cases_dir)) {
    const std::string name = entry.path().filename();
    const nlohmann::json c = load_json_fixture("pipelines/cases/" + name + "/case.json");
    const SafeTensorsFile tensors = SafeTensorsFile::open(entry.path() / "fixtures.safetensors");
    for (const auto& [prefix, stage] : c["stages"].items()) {
      check_stage(name, c, prefix, stage, tensors);
      ++stages;
    }
  }
  EXPECT_EQ(stages, 13);
}

TEST(TimestepWindows, RejectBadFractions) {
  const auto sampler = make_sampler("euler", NoiseScheduleConfig{}, 10);
  EXPECT_THROW(img2img_window(*sampler, 0.0), Error);
  EXPECT_THROW(img2img_window(*sampler, 1.5), Error);
  EXPECT_THROW(img2img_window(*sampler, 0.05), Error);  // int(10 * 0.05) = 0 steps left
  EXPECT_THROW(denoising_end_window(*sampler, 1.0), Error);
  EXPECT_THROW(denoising_start_window(*sampler, 0.0), Error);
  // Heun lists timesteps twice: the refiner part never starts between the two halves.
  const auto heun = make_sampler("heun", NoiseScheduleConfig{}, 10);
  const TimestepWindow w = denoising_start_window(*heun, 0.8);
  EXPECT_EQ(w.size() % 2, 1);
  EXPECT_EQ(w.end, int(heun->timesteps().size()));
}

}  // namespace
}  // namespace diffnorm
