// The model-family detector on the real fixture files (single-file checkpoints, diffusers
// components, LoRA / LyCORIS adapters) and on synthetic key lists for layouts the fixtures
// do not cover.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/model_family.h"

using namespace diffnorm;

namespace {

FamilyGuess guess_file(const std::string& relative) {
  const std::string path = std::string(DN_SHARED_DIR) + "/fixtures/" + relative;
  EXPECT_TRUE(std::filesystem::exists(path)) << path;
  return guess_model_family(SafeTensorsFile::open(path).tensors());
}

TEST(ModelFamily, SingleFileCheckpoints) {
  EXPECT_EQ(guess_file("pipelines/single_file/sd15-struct.fp16.safetensors").family, ModelFamily::SD1Checkpoint);
  EXPECT_EQ(guess_file("pipelines/single_file/sdxl-struct.fp16.safetensors").family,
            ModelFamily::SDXLBaseCheckpoint);
  const FamilyGuess refiner = guess_file("pipelines/single_file/sdxl-refiner-struct.fp16.safetensors");
  EXPECT_EQ(refiner.family, ModelFamily::SDXLRefinerCheckpoint);
  EXPECT_TRUE(refiner.evidence.starts_with("conditioner.embedders.0.model.")) << refiner.evidence;
}

TEST(ModelFamily, DiffusersComponents) {
  EXPECT_EQ(guess_file("sd15-tiny/unet/diffusion_pytorch_model.safetensors").family, ModelFamily::DiffusersUNetSD1);
  EXPECT_EQ(guess_file("sd21-tiny/unet/diffusion_pytorch_model.safetensors").family, ModelFamily::DiffusersUNetSD2);
  EXPECT_EQ(guess_file("sdxl-tiny/unet/diffusion_pytorch_model.safetensors").family, ModelFamily::DiffusersUNetSDXL);
  EXPECT_EQ(guess_file("sdxl-refiner-tiny/unet/diffusion_pytorch_model.safetensors").family,
            ModelFamily::DiffusersUNetSDXL);
  EXPECT_EQ(guess_file("vae-tiny/vae/diffusion_pytorch_model.safetensors").family, ModelFamily::DiffusersVAE);
  EXPECT_EQ(guess_file("clip-l-tiny/text_encoder/model.safetensors").family, ModelFamily::ClipTextModel);
  EXPECT_EQ(guess_file("clip-g-tiny/text_encoder_2/model.safetensors").family,
            ModelFamily::ClipTextModelWithProjection);
  EXPECT_EQ(guess_file("sd15-tiny/fixtures.safetensors").family, ModelFamily::Unknown);
}

TEST(ModelFamily, Adapters) {
  const FamilyGuess kohya = guess_file("lora/sd15/lora_a_kohya.safetensors");
  EXPECT_EQ(kohya.family, ModelFamily::LoraKohya);
  EXPECT_NE(kohya.description.find("SD1.x/SD2.x, rank 4"), std::string::npos) << kohya.description;
  const FamilyGuess sdxl = guess_file("lora/sdxl/lora_kohya_sgm.safetensors");
  EXPECT_EQ(sdxl.family, ModelFamily::LoraKohya);
  EXPECT_NE(sdxl.description.find("SDXL"), std::string::npos) << sdxl.description;
  EXPECT_EQ(guess_file("lora/sd15/lora_b_kohya.safetensors").family, ModelFamily::LoraKohya);
  EXPECT_EQ(guess_file("lora/sd15/lora_a_peft.safetensors").family, ModelFamily::LoraPeft);
  EXPECT_EQ(guess_file("lora/sd15/lora_a_diffusers.safetensors").family, ModelFamily::LoraDiffusers);
  EXPECT_EQ(guess_file("lora/sd15/loha.safetensors").family, ModelFamily::LycorisLoHa);
  EXPECT_EQ(guess_file("lora/sd15/lokr.safetensors").family, ModelFamily::LycorisLoKr);
}

std::vector<TensorInfo> infos(std::initializer_list<std::pair<const char*, Shape>> keys) {
  std::vector<TensorInfo> out;
  for (const auto& [name, shape] : keys) out.push_back(TensorInfo{name, DType::F16, shape, 0, 0});
  return out;
}

TEST(ModelFamily, LayoutsWithoutFixtures) {
  // SD2.x single file: OpenCLIP text encoder under cond_stage_model.model.
  EXPECT_EQ(guess_model_family(infos({{"model.diffusion_model.input_blocks.0.0.weight", {320, 4, 3, 3}},
                                      {"cond_stage_model.model.transformer.resblocks.0.ln_1.weight", {1024}}}))
                .family,
            ModelFamily::SD2Checkpoint);
  EXPECT_EQ(guess_model_family(infos({{"model.diffusion_model.input_blocks.0.0.weight", {320, 4, 3, 3}}})).family,
            ModelFamily::LdmUNet);
  EXPECT_EQ(guess_model_family(infos({{"encoder.down.0.block.0.conv1.weight", {128, 128, 3, 3}}})).family,
            ModelFamily::LdmVAE);
  EXPECT_EQ(guess_model_family({}).family, ModelFamily::Unknown);
  EXPECT_EQ(family_id(ModelFamily::SDXLRefinerCheckpoint), "sdxl-refiner-checkpoint");
}

}  // namespace
