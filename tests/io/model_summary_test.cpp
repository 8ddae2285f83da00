// What `diffnorm info` prints, checked against the fixture set's own record of tensor and
// parameter counts (pipelines.json, written by the reference implementation).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "diffnorm/error.h"
#include "io/model_summary.h"

using namespace diffnorm;

namespace {

const std::string kPipelines = std::string(DN_SHARED_DIR) + "/fixtures/pipelines";

nlohmann::json pipelines_record() {
  std::ifstream in(kPipelines + "/pipelines.json");
  EXPECT_TRUE(in.good()) << "missing " << kPipelines << "/pipelines.json";
  return nlohmann::json::parse(in);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ModelSummary, ComponentFilesMatchTheRecordedCounts) {
  const nlohmann::json record = pipelines_record()["folder_weights"];
  ASSERT_FALSE(record.empty());
  for (const auto& [relative, expected] : record.items()) {
    const std::string text = summarize_model_path(kPipelines + "/" + relative, false);
    const std::string counts = fmt::format("{} tensors, {} parameters", expected["tensors"].get<int>(),
                                           with_thousands(expected["params"].get<uint64_t>()));
    EXPECT_TRUE(contains(text, counts)) << relative << " lacks '" << counts << "':\n" << text;
    EXPECT_TRUE(contains(text, "    format: pt\n")) << text;
  }
}

TEST(ModelSummary, SingleFileCheckpointGroupsAndListsTensors) {
  const std::string path = kPipelines + "/single_file/sd15-struct.fp16.safetensors";
  const std::string text = summarize_model_path(path, false);
  EXPECT_TRUE(contains(text, "  1131 tensors")) << text;
  EXPECT_TRUE(contains(text, "family: sd1-checkpoint")) << text;
  // 686 UNet tensors, as in the diffusers UNet of the same pipeline.
  const std::size_t unet_line = text.find("    model.diffusion_model ");
  ASSERT_NE(unet_line, std::string::npos) << text;
  const std::string line = text.substr(unet_line, text.find('\n', unet_line) - unet_line);
  EXPECT_TRUE(contains(line, " 686 tensors ") && contains(line, " 546,588 parameters ")) << line;
  EXPECT_TRUE(contains(text, "cond_stage_model.transformer")) << text;
  EXPECT_TRUE(contains(text, "first_stage_model")) << text;
  const std::string all = summarize_model_path(path, true);
  EXPECT_TRUE(contains(all, "    cond_stage_model.transformer.text_model.embeddings.position_ids I64 [1,77]\n"))
      << all.substr(0, 2000);
  // The 3 group lines and their heading give way to a heading and one line per tensor.
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), std::count(text.begin(), text.end(), '\n') - 4 + 1 + 1131);
}

TEST(ModelSummary, DiffusersPipelineFolders) {
  const nlohmann::json n_params = pipelines_record()["n_params"];
  const std::string sd15 = summarize_model_path(kPipelines + "/sd15-struct", false);
  EXPECT_TRUE(contains(sd15, "diffusers pipeline StableDiffusionPipeline")) << sd15;
  EXPECT_TRUE(contains(sd15, "family: SD1.x")) << sd15;
  const uint64_t sd15_params = n_params["sd15_unet"].get<uint64_t>() + n_params["sd_vae"].get<uint64_t>() +
                               n_params["clip_l"].get<uint64_t>();
  EXPECT_TRUE(contains(sd15, with_thousands(sd15_params) + " parameters")) << sd15;
  EXPECT_TRUE(contains(sd15, "unet: diffusers.UNet2DConditionModel")) << sd15;
  EXPECT_TRUE(contains(sd15, "prediction_type=\"epsilon\"")) << sd15;

  const std::string xl = summarize_model_path(kPipelines + "/sdxl-struct", false);
  EXPECT_TRUE(contains(xl, "family: SDXL base")) << xl;
  const std::string refiner = summarize_model_path(kPipelines + "/sdxl-refiner-struct", false);
  EXPECT_TRUE(contains(refiner, "family: SDXL refiner")) << refiner;
  EXPECT_TRUE(contains(refiner, "text_encoder: absent")) << refiner;

  const std::string component = summarize_model_path(kPipelines + "/sd15-struct/vae", false);
  EXPECT_TRUE(contains(component, "diffusers component")) << component;
  EXPECT_TRUE(contains(component, "family: diffusers-vae")) << component;
}

TEST(ModelSummary, GroupsAndErrors) {
  EXPECT_EQ(tensor_group("model.diffusion_model.input_blocks.0.0.weight"), "model.diffusion_model");
  EXPECT_EQ(tensor_group("conditioner.embedders.1.model.ln_final.weight"), "conditioner.embedders.1");
  EXPECT_EQ(tensor_group("lora_te2_text_model_encoder_layers_1_mlp_fc2.alpha"), "lora_te2");
  EXPECT_EQ(tensor_group("down_blocks.0.resnets.0.conv1.weight"), "down_blocks");
  EXPECT_EQ(tensor_group("logit_scale"), "logit_scale");
  EXPECT_EQ(with_thousands(1234567), "1,234,567");
  EXPECT_EQ(with_thousands(999), "999");
  EXPECT_THROW(summarize_model_path("/nonexistent/model", false), Error);
  const std::string message = [] {
    try {
      summarize_model_path(kPipelines + "/cases", false);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  EXPECT_TRUE(contains(message, "not a diffusers folder")) << message;
}

}  // namespace
