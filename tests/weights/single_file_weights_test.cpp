// Single-file checkpoints (../shared/fixtures/pipelines/single_file/*.fp16.safetensors, the
// LDM / SGM layouts) read through SingleFileWeights against the same pipelines as diffusers
// folders: every key of every folder component gives the same values (the folders hold
// fp16-rounded weights, so equality is exact), every tensor of the file is used, the models
// build from them, configs are derived from the tensors, and layout defects are reported.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include "diffnorm/error.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_2d_condition_model.h"
#include "nn/component.h"
#include "nn/single_file_weights.h"

namespace diffnorm::nn {
namespace {

namespace fs = std::filesystem;

std::string pipelines() { return std::string(DN_SHARED_DIR) + "/fixtures/pipelines"; }
std::string single_file(const std::string& name) { return pipelines() + "/single_file/" + name + ".fp16.safetensors"; }

struct Case {
  std::string name;  // sd15-struct, ...
  ModelFamily family;
  std::vector<std::string> components;
};

const Case kCases[] = {
    {"sd15-struct", ModelFamily::SD1Checkpoint, {"unet", "vae", "text_encoder"}},
    {"sdxl-struct", ModelFamily::SDXLBaseCheckpoint, {"unet", "vae", "text_encoder", "text_encoder_2"}},
    {"sdxl-refiner-struct", ModelFamily::SDXLRefinerCheckpoint, {"unet", "vae", "text_encoder_2"}},
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

class SingleFile : public ::testing::TestWithParam<Case> {};

TEST_P(SingleFile, EveryFolderTensorIsEqualAndEveryFileTensorUsed) {
  const Case& c = GetParam();
  const SingleFileCheckpoint ckpt = SingleFileCheckpoint::open(single_file(c.name));
  EXPECT_EQ(ckpt.family(), c.family);
  EXPECT_EQ(ckpt.components(), c.components);
  for (const std::string& component : c.components) {
    SCOPED_TRACE(component);
    const SafeTensorsFile folder =
        SafeTensorsFile::open(component_weights_path(pipelines() + "/" + c.name + "/" + component));
    std::unique_ptr<SingleFileWeights> source = ckpt.weights(component);
    for (const TensorInfo& t : folder.tensors()) {
      const Tensor expected = folder.get(t.name).to(DType::F32);
      const Tensor got = source->get(t.name, t.shape);
      ASSERT_EQ(got.shape(), t.shape) << t.name;
      const float* a = got.data<float>();
      const float* b = expected.data<float>();
      for (int64_t i = 0; i < got.numel(); ++i)
        ASSERT_EQ(a[i], b[i]) << t.name << " element " << i;
    }
    // The SD1.5 file carries CLIP's position_ids buffer, which the model ignores.
    source->ignore("text_model.embeddings.position_ids");
    EXPECT_NO_THROW(source->check_all_used());
  }
}

TEST_P(SingleFile, ModelsBuildFromTheFileWithFolderConfigs) {
  const Case& c = GetParam();
  SingleFileOptions options;
  options.config_dir = pipelines() + "/" + c.name;
  const SingleFileCheckpoint ckpt = SingleFileCheckpoint::open(single_file(c.name), options);
  for (const std::string& component : c.components) {
    SCOPED_TRACE(component);
    std::unique_ptr<SingleFileWeights> w = ckpt.weights(component);
    const ConfigReader config = ckpt.config(component);
    if (component == "unet") {
      models::UNet2DConditionModel m(*w, models::UNet2DConditionConfig::from(config));
    } else if (component == "vae") {
      models::AutoencoderKL m(*w, models::AutoencoderKLConfig::from(config));
    } else {
      models::CLIPTextModel m(*w, models::CLIPTextConfig::from(config));
    }
    EXPECT_NO_THROW(w->check_all_used());
  }
}

INSTANTIATE_TEST_SUITE_P(Pipelines, SingleFile, ::testing::ValuesIn(kCases),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// SD2.x layout (cond_stage_model.model., OpenCLIP), made from the refiner file by moving its
// bigG under the SD2 prefix: diffusers' SD2 text encoder stops one block early and has no
// projection, so the last block and text_projection are left out of the component.
TEST(SingleFileSD2, OpenClipPenultimateLayout) {
  const SafeTensorsFile refiner = SafeTensorsFile::open(single_file("sdxl-refiner-struct"));
  std::vector<std::pair<std::string, Tensor>> tensors;
  const std::string bigg = "conditioner.embedders.0.model.";
  for (const TensorInfo& t : refiner.tensors())
    tensors.emplace_back(t.name.starts_with(bigg) ? "cond_stage_model.model." + t.name.substr(bigg.size()) : t.name,
                         refiner.get(t.name));
  const std::string path = (fs::temp_directory_path() / ("dn_weights_sd2_" + std::to_string(::getpid()) + ".safetensors")).string();
  save_safetensors(path, tensors);
  const SingleFileCheckpoint ckpt = SingleFileCheckpoint::open(path);
  fs::remove(path);
  EXPECT_EQ(ckpt.family(), ModelFamily::SD2Checkpoint);

  const SafeTensorsFile folder = SafeTensorsFile::open(pipelines() + "/sdxl-refiner-struct/text_encoder_2/model.safetensors");
  const std::unique_ptr<SingleFileWeights> w = ckpt.weights("text_encoder");
  int asked = 0;
  for (const TensorInfo& t : folder.tensors()) {
    if (t.name.starts_with("text_model.encoder.layers.31.") || t.name == "text_projection.weight") {
      EXPECT_THROW(w->get(t.name, t.shape), Error) << t.name;
      continue;
    }
    const std::vector<float> got = w->get(t.name, t.shape).to_vector();
    ASSERT_EQ(got, folder.get(t.name).to_vector()) << t.name;
    ++asked;
  }
  EXPECT_GT(asked, 0);
  EXPECT_NO_THROW(w->check_all_used());
}

// ---- derived configs -----------------------------------------------------------------

void expect_same(const ConfigReader& derived, const std::string& folder_config, const std::vector<std::string>& keys) {
  const ConfigReader folder = ConfigReader::load(folder_config);
  for (const std::string& k : keys) {
    SCOPED_TRACE(k);
    if (k.ends_with("_types")) {
      EXPECT_EQ(derived.get_string_list(k, {}), folder.get_string_list(k, {}));
    } else if (k == "use_linear_projection") {
      EXPECT_EQ(derived.get_bool(k, false), folder.get_bool(k, true));
    } else {
      EXPECT_EQ(derived.get_per_level(k, 4, -1), folder.get_per_level(k, 4, -2));
    }
  }
}

TEST(DerivedConfig, StructureComesFromTheTensors) {
  const SingleFileCheckpoint sd15 = SingleFileCheckpoint::open(single_file("sd15-struct"));
  expect_same(sd15.config("unet"), pipelines() + "/sd15-struct/unet/config.json",
              {"in_channels", "out_channels", "block_out_channels", "layers_per_block", "down_block_types",
               "up_block_types", "cross_attention_dim", "use_linear_projection", "transformer_layers_per_block"});
  for (const char* name : {"sd15-struct", "sdxl-struct", "sdxl-refiner-struct"}) {
    SCOPED_TRACE(name);
    const SingleFileCheckpoint ckpt = SingleFileCheckpoint::open(single_file(name));
    expect_same(ckpt.config("vae"), pipelines() + "/" + name + "/vae/config.json",
                {"in_channels", "out_channels", "latent_channels", "block_out_channels", "layers_per_block",
                 "down_block_types", "up_block_types"});
  }
  // What the tensors cannot say comes from the preset: SD1.5's 8 heads, 32 groups, scaling.
  const ConfigReader unet = sd15.config("unet");
  EXPECT_EQ(unet.get_int("attention_head_dim", 0), 8);
  EXPECT_EQ(unet.get_int("norm_num_groups", 0), 32);
  EXPECT_DOUBLE_EQ(SingleFileCheckpoint::open(single_file("sdxl-struct")).config("vae").get_double("scaling_factor", 0),
                   0.13025);
}

TEST(DerivedConfig, HeadsOfANonStandardWidthAskForTheFolderConfigs) {
  const SingleFileCheckpoint sdxl = SingleFileCheckpoint::open(single_file("sdxl-struct"));
  for (const char* component : {"unet", "text_encoder", "text_encoder_2"}) {
    SCOPED_TRACE(component);
    const std::string msg = message_of([&] { sdxl.config(component); });
    EXPECT_NE(msg.find("head size 64 of the sdxl-base preset"), std::string::npos) << msg;
    EXPECT_NE(msg.find("diffusers configs"), std::string::npos) << msg;
  }
}

// ---- defects -------------------------------------------------------------------------

// A copy of the SD1.5 single file with its tensor list edited.
class EditedFile {
 public:
  template <class Edit>
  explicit EditedFile(Edit edit) {
    const SafeTensorsFile f = SafeTensorsFile::open(single_file("sd15-struct"));
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const TensorInfo& t : f.tensors()) tensors.emplace_back(t.name, f.get(t.name));
    edit(tensors);
    path_ = (fs::temp_directory_path() / ("dn_weights_test_" + std::to_string(::getpid()) + "_" +
                                          std::to_string(counter_++) + ".safetensors"))
                .string();
    save_safetensors(path_, tensors);
  }
  ~EditedFile() { fs::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  static inline int counter_ = 0;
};

void remove(std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& name) {
  std::erase_if(tensors, [&](const auto& t) { return t.first == name; });
}

TEST(SingleFileErrors, MissingTensorNamesDiffusersAndOriginalKeys) {
  const EditedFile file([](auto& t) { remove(t, "model.diffusion_model.output_blocks.5.2.conv.weight"); });
  const SingleFileCheckpoint ckpt = SingleFileCheckpoint::open(file.path());
  const std::unique_ptr<SingleFileWeights> w = ckpt.weights("unet");
  const std::string msg = message_of([&] { w->get("up_blocks.1.upsamplers.0.conv.weight", {32, 32, 3, 3}); });
  EXPECT_NE(msg.find("'up_blocks.1.upsamplers.0.conv.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'model.diffusion_model.output_blocks.5.2.conv.weight'"), std::string::npos) << msg;

  const EditedFile clip([](auto& t) { remove(t, "cond_stage_model.transformer.text_model.final_layer_norm.bias"); });
  const std::string msg2 = message_of([&] {
    const SingleFileCheckpoint c = SingleFileCheckpoint::open(clip.path());
    models::CLIPTextModel m(*c.weights("text_encoder"),
                            models::CLIPTextConfig::from(ConfigReader::load(pipelines() + "/sd15-struct/text_encoder/config.json")));
  });
  EXPECT_NE(msg2.find("'cond_stage_model.transformer.text_model.final_layer_norm.bias'"), std::string::npos) << msg2;
}

TEST(SingleFileErrors, UnknownPrefixAndUnmappedKeyAreReported) {
  const Tensor x = Tensor::zeros({2}, DType::F16);
  const EditedFile unknown([&](auto& t) { t.emplace_back("lora_unet_foo.alpha", x); });
  std::string msg = message_of([&] { SingleFileCheckpoint::open(unknown.path()); });
  EXPECT_NE(msg.find("'lora_unet_foo.alpha' belongs to no component"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.diffusion_model. (unet)"), std::string::npos) << msg;

  const EditedFile unmapped([&](auto& t) { t.emplace_back("model.diffusion_model.input_blocks.1.0.extra.weight", x); });
  msg = message_of([&] { SingleFileCheckpoint::open(unmapped.path()); });
  EXPECT_NE(msg.find("'model.diffusion_model.input_blocks.1.0.extra.weight' of the unet"), std::string::npos) << msg;
  EXPECT_NE(msg.find("maps to no diffusers key"), std::string::npos) << msg;

  // A diffusers key the layout cannot hold.
  const SingleFileCheckpoint ok = SingleFileCheckpoint::open(single_file("sd15-struct"));
  msg = message_of([&] { ok.weights("unet")->get("add_embedding.linear_1.weight", {4, 4}); });
  EXPECT_NE(msg.find("no counterpart"), std::string::npos) << msg;
}

TEST(SingleFileErrors, NonWeightEntriesAreSkippedAndTheFamilyCanBeForced) {
  const Tensor x = Tensor::zeros({1000}, DType::F32);
  const EditedFile extras([&](auto& t) {
    t.emplace_back("alphas_cumprod", x);
    t.emplace_back("model_ema.decay", Tensor::zeros({}, DType::F32));
  });
  const SingleFileCheckpoint ckpt = SingleFileCheckpoint::open(extras.path());
  EXPECT_EQ(ckpt.family(), ModelFamily::SD1Checkpoint);

  // The SD1.5 file read as SDXL: its text encoder's prefix belongs to no SDXL component.
  SingleFileOptions forced;
  forced.family = ModelFamily::SDXLBaseCheckpoint;
  const std::string msg = message_of([&] { SingleFileCheckpoint::open(single_file("sd15-struct"), forced); });
  EXPECT_NE(msg.find("cond_stage_model.transformer.text_model."), std::string::npos) << msg;
  EXPECT_NE(msg.find("sdxl-base-checkpoint"), std::string::npos) << msg;

  forced.family = ModelFamily::LoraKohya;
  EXPECT_THROW(SingleFileCheckpoint::open(single_file("sd15-struct"), forced), Error);
}

}  // namespace
}  // namespace diffnorm::nn
