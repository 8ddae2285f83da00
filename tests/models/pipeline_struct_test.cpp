// The structurally exact tiny pipelines (fixtures/pipelines/*-struct, real SD1.5 / SDXL
// base / refiner block layouts): every recorded UNet call of every generation case
// (both CFG halves: noise_pred_uncond with the negative conditioning, noise_pred_text with
// the positive one) and the final VAE decode, with the metric of fixture_compare.h
// (rel64 = case.json f32_vs_f64.<name>.rel).
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "fixture_compare.h"
#include "models/model_io.h"

namespace diffnorm::models {
namespace {

namespace fs = std::filesystem;

const std::string kPipelines = test::fixtures_dir() + "/pipelines";

// case.json is Python's JSON, which writes non-finite numbers as bare -Infinity / Infinity /
// NaN; those (only in scheduler metadata this test does not read) become null.
nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("fixture missing: " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  for (const std::string token : {"-Infinity", "Infinity", "NaN"})
    for (std::size_t at; (at = text.find(": " + token)) != std::string::npos;) text.replace(at + 2, token.size(), "null");
  return nlohmann::json::parse(text);
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kPipelines + "/cases")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class PipelineCase : public ::testing::TestWithParam<std::string> {};

TEST_P(PipelineCase, UNetCallsAndDecodeMatchDiffusers) {
  const std::string dir = kPipelines + "/cases/" + GetParam();
  const nlohmann::json info = read_json(dir + "/case.json");
  const SafeTensorsFile file = SafeTensorsFile::open(dir + "/fixtures.safetensors");
  const auto& stats = info.at("f32_vs_f64");
  auto check = [&](const std::string& name, const Tensor& got) {
    return test::expect_close(name, got, file.get(name), stats.at(name).at("rel").get<double>());
  };

  // One pipeline folder per stage, in order ("sdxl-struct + sdxl-refiner-struct").
  std::vector<std::string> folders;
  std::string list = info.at("pipeline_folder").get<std::string>();
  for (std::size_t at; (at = list.find(" + ")) != std::string::npos; list.erase(0, at + 3))
    folders.push_back(list.substr(0, at));
  folders.push_back(list);
  ASSERT_EQ(folders.size(), info.at("stages").size());

  int calls = 0;
  double worst = 0;
  std::size_t stage_index = 0;
  for (auto& [prefix, stage] : info.at("stages").items()) {
    const std::string folder = kPipelines + "/" + folders[stage_index++];
    const UNet2DConditionModel unet = UNet2DConditionModel::load(folder + "/unet");
    const bool sdxl = unet.config().addition_embed_type.has_value();
    std::vector<double> timesteps;
    if (file.contains(prefix + "timesteps")) {
      const Tensor t = file.get(prefix + "timesteps");
      for (int64_t i = 0; i < t.numel(); ++i) timesteps.push_back(t.item(i));
    } else {
      timesteps = stage.at("timesteps_used").get<std::vector<double>>();
    }
    for (std::size_t i = 0; i < timesteps.size(); ++i) {
      const std::string step = prefix + "step." + std::to_string(i) + ".";
      if (!file.contains(step + "model_input")) continue;  // not recorded for this step
      for (const bool positive : {false, true}) {
        const std::string out_name = step + (positive ? "noise_pred_text" : "noise_pred_uncond");
        if (!file.contains(out_name)) continue;
        const std::string neg = positive ? "" : "negative_";
        NamedTensors in{{"in.sample", file.get(step + "model_input")},
                        {"in.timestep", Tensor::full({1}, timesteps[i])},
                        {"in.encoder_hidden_states", file.get(prefix + neg + "prompt_embeds")}};
        if (sdxl) {
          in["in.text_embeds"] = file.get(prefix + neg + "pooled_prompt_embeds");
          in["in.time_ids"] = file.get(prefix + neg + "add_time_ids");
        }
        worst = std::max(worst, check(out_name, run_unet(unet, in).at("out.sample")));
        ++calls;
      }
    }
    if (file.contains(prefix + "image.decoded")) {
      const AutoencoderKL vae = AutoencoderKL::load(folder + "/vae");
      Tensor z = file.get(prefix + "latents.final").clone();
      float* zp = z.data<float>();
      // The pipeline decodes latents / scaling_factor (a float32 division).
      const float s = float(vae.config().scaling_factor);
      for (int64_t k = 0; k < z.numel(); ++k) zp[k] /= s;
      worst = std::max(worst, check(prefix + "image.decoded", run_vae_decode(vae, {{"in.z", z}}).at("out.decoded")));
    }
  }
  EXPECT_GT(calls, 0);
  std::printf("[ pipeline ] %d UNet calls checked; worst at %.2f of the allowed error\n", calls, worst);
}

INSTANTIATE_TEST_SUITE_P(Cases, PipelineCase, ::testing::ValuesIn(case_names()));

}  // namespace
}  // namespace diffnorm::models
