// Weight binding errors (missing, unexpected and mis-shaped keys name the key and both
// shapes), config errors (name the file and key), and models built from RandomWeights.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "fixture_compare.h"
#include "models/model_io.h"
#include "nn/component.h"

namespace diffnorm::models {
namespace {

namespace fs = std::filesystem;

// A copy of the tiny VAE's folder with its weights edited by `edit`.
class EditedVae {
 public:
  template <class Edit>
  explicit EditedVae(Edit edit) {
    const std::string src = test::fixtures_dir() + "/vae-tiny/vae";
    dir_ = fs::temp_directory_path() / ("dn_models_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(dir_);
    fs::copy_file(src + "/config.json", dir_ / "config.json");
    const SafeTensorsFile f = SafeTensorsFile::open(src + "/diffusion_pytorch_model.safetensors");
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const TensorInfo& t : f.tensors()) tensors.emplace_back(t.name, f.get(t.name));
    edit(tensors);
    save_safetensors((dir_ / "diffusion_pytorch_model.safetensors").string(), tensors);
  }
  ~EditedVae() { fs::remove_all(dir_); }
  std::string dir() const { return dir_.string(); }

 private:
  fs::path dir_;
  static inline int counter_ = 0;
};

std::string load_error(const std::string& dir) {
  try {
    AutoencoderKL::load(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(WeightBinding, MissingKeyIsNamedWithItsShape) {
  const EditedVae vae([](auto& t) {
    std::erase_if(t, [](const auto& kv) { return kv.first == "decoder.up_blocks.1.resnets.2.conv1.weight"; });
  });
  const std::string msg = load_error(vae.dir());
  EXPECT_NE(msg.find("missing weight 'decoder.up_blocks.1.resnets.2.conv1.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[32,32,3,3]"), std::string::npos) << msg;
}

TEST(WeightBinding, MisShapedKeyNamesBothShapes) {
  const EditedVae vae([](auto& t) {
    for (auto& [name, tensor] : t)
      if (name == "encoder.mid_block.attentions.0.to_q.weight") tensor = Tensor::zeros({32, 16});
  });
  const std::string msg = load_error(vae.dir());
  EXPECT_NE(msg.find("'encoder.mid_block.attentions.0.to_q.weight' has shape [32,16], expected [32,32]"),
            std::string::npos)
      << msg;
}

TEST(WeightBinding, UnexpectedKeysAreListed) {
  const EditedVae vae([](auto& t) {
    t.emplace_back("encoder.extra_block.weight", Tensor::zeros({4}));
    t.emplace_back("decoder.mid_block.attentions.0.query.weight", Tensor::zeros({32, 32}));
  });
  const std::string msg = load_error(vae.dir());
  EXPECT_NE(msg.find("2 unexpected weight(s)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("encoder.extra_block.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("decoder.mid_block.attentions.0.query.weight"), std::string::npos) << msg;
}

TEST(WeightBinding, Fp16WeightsAreConvertedAtLoad) {
  const EditedVae vae([](auto& t) {
    for (auto& [name, tensor] : t) tensor = tensor.to(DType::F16);
  });
  const test::ModelFixture fx("vae");
  const AutoencoderKL model = AutoencoderKL::load(vae.dir());
  const Tensor got = run_vae_decode(model, fx.inputs()).at("out.decoded");
  const Tensor ref = fx.get("out.decoded");
  // fp16 weights carry a 2^-11 relative rounding: only closeness is expected.
  double max_diff = 0, max_ref = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    max_diff = std::max(max_diff, std::abs(got.item(i) - ref.item(i)));
    max_ref = std::max(max_ref, std::abs(ref.item(i)));
  }
  EXPECT_LT(max_diff, 2e-2 * max_ref);
}

TEST(ModelConfig, BadValueNamesFileAndKey) {
  const fs::path dir = fs::temp_directory_path() / ("dn_models_cfg_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"block_out_channels": [32, 48], "norm_num_groups": 16,
      "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
      "attention_head_dim": [2, 4, 4]})";
  try {
    UNet2DConditionConfig::from(nn::open_component_config(dir.string()));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find((dir / "config.json").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("'attention_head_dim'"), std::string::npos) << msg;
  }
  fs::remove_all(dir);
}

TEST(RandomWeights, BuildsAModelFromItsConfigAlone) {
  // The bench path: any config, deterministic weights, no checkpoint.
  const auto config = UNet2DConditionConfig::from(
      nn::open_component_config(test::fixtures_dir() + "/sdxl-tiny/unet"));
  const Tensor sample = Tensor::full({1, 8, 8, 4}, 0.5);
  const Tensor t = Tensor::full({1}, 500.0);
  const Tensor ctx = Tensor::full({1, 77, config.cross_attention_dim}, 0.1);
  UNetAddedCond added{Tensor::full({1, 16}, 0.2), Tensor::from_vector({1, 6}, {64, 64, 0, 0, 64, 64})};
  std::vector<float> first;
  for (int round = 0; round < 2; ++round) {
    nn::RandomWeights weights(7);
    const UNet2DConditionModel model(weights, config);
    const std::vector<float> y = model.forward(sample, t, ctx, added).to_vector();
    ASSERT_EQ(y.size(), 8u * 8u * 4u);
    for (float v : y) ASSERT_TRUE(std::isfinite(v));
    if (round == 0) first = y;
    else EXPECT_EQ(first, y) << "random weights are not deterministic";
  }
}

}  // namespace
}  // namespace diffnorm::models
