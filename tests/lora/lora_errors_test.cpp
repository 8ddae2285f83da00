// LoRA files that do not fit: each defect is an Error that names the key / module / file
// (never a silent no-op); plus the key-format variants the fixtures do not hold (diffusers
// 0.23's "unet.unet." prefix, the older attention-processor names) against the plain form.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "diffnorm/error.h"
#include "diffnorm/safetensors.h"
#include "models/load_with_loras.h"
#include "models/unet_ldm_layout.h"
#include "nn/component.h"
#include "nn/lora_set.h"

namespace diffnorm {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = std::string(DN_SHARED_DIR) + "/fixtures";
const std::string kUnet = kFixtures + "/sd15-tiny/unet";  // block_out_channels [32, 48]
const std::string kToQ = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string write_lora(const std::string& name, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  const std::string path = (fs::path(::testing::TempDir()) / (name + ".safetensors")).string();
  save_safetensors(path, tensors);
  return path;
}

nn::LoraSet one(const std::string& path, double weight = 1.0) { return nn::LoraSet::load({{path, weight}}); }

TEST(LoraChoice, ParsesFileAndWeight) {
  const nn::LoraChoice c = nn::parse_lora_choice("dir/style.safetensors:0.8");
  EXPECT_EQ(c.path, "dir/style.safetensors");
  EXPECT_DOUBLE_EQ(c.weight, 0.8);
  EXPECT_DOUBLE_EQ(nn::parse_lora_choice("style.safetensors").weight, 1.0);
  EXPECT_DOUBLE_EQ(nn::parse_lora_choice("a:-0.5").weight, -0.5);
}

TEST(LoraChoice, BadSyntaxIsNamed) {
  EXPECT_NE(message_of([] { nn::parse_lora_choice("style.safetensors:strong"); }).find("'strong'"), std::string::npos);
  EXPECT_NE(message_of([] { nn::parse_lora_choice("style.safetensors:"); }).find("not a number"), std::string::npos);
  EXPECT_NE(message_of([] { nn::parse_lora_choice(":0.5"); }).find("no file"), std::string::npos);
  EXPECT_NE(message_of([] { nn::parse_lora_choice("a:nan"); }).find("not a number"), std::string::npos);
}

TEST(LoraFile, UnknownKeyIsNamed) {
  const std::string path = write_lora("unknown_key", {{kToQ + ".lora_down.weight", Tensor::zeros({4, 32})},
                                                      {kToQ + ".lora_up.weight", Tensor::zeros({32, 4})},
                                                      {"model.diffusion_model.out.2.weight", Tensor::zeros({4})}});
  const std::string m = message_of([&] { weights::read_lora_file(path); });
  EXPECT_NE(m.find("'model.diffusion_model.out.2.weight'"), std::string::npos) << m;
  EXPECT_NE(m.find(path), std::string::npos) << m;
}

TEST(LoraFile, UnsupportedFactorIsNamed) {
  const std::string path = write_lora("dora", {{kToQ + ".lora_down.weight", Tensor::zeros({4, 32})},
                                               {kToQ + ".lora_up.weight", Tensor::zeros({32, 4})},
                                               {kToQ + ".dora_scale", Tensor::zeros({32, 1})}});
  EXPECT_NE(message_of([&] { weights::read_lora_file(path); }).find(kToQ + ".dora_scale"), std::string::npos);
}

TEST(LoraFile, MissingFactorIsNamed) {
  const std::string path = write_lora("no_up", {{kToQ + ".lora_down.weight", Tensor::zeros({4, 32})}});
  const std::string m = message_of([&] { weights::read_lora_file(path); });
  EXPECT_NE(m.find(kToQ), std::string::npos) << m;
  EXPECT_NE(m.find("'up'"), std::string::npos) << m;
}

TEST(LoraApply, PatchMatchingNoModuleIsNamed) {
  const std::string ghost = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_z";
  const std::string path = write_lora("ghost", {{kToQ + ".lora_down.weight", Tensor::full({4, 32}, 0.01)},
                                                {kToQ + ".lora_up.weight", Tensor::full({32, 4}, 0.01)},
                                                {ghost + ".lora_down.weight", Tensor::full({4, 32}, 0.01)},
                                                {ghost + ".lora_up.weight", Tensor::full({32, 4}, 0.01)}});
  const std::string m = message_of([&] { models::load_unet(kUnet, one(path)); });
  EXPECT_NE(m.find("'" + ghost + "'"), std::string::npos) << m;
  EXPECT_EQ(m.find("'" + kToQ + "'"), std::string::npos) << m;  // the matched one is not listed
}

TEST(LoraApply, ShapeThatDoesNotFitIsNamed) {
  const std::string path = write_lora("misfit", {{kToQ + ".lora_down.weight", Tensor::full({4, 48}, 0.01)},
                                                 {kToQ + ".lora_up.weight", Tensor::full({32, 4}, 0.01)}});
  const std::string m = message_of([&] { models::load_unet(kUnet, one(path)); });
  EXPECT_NE(m.find("'" + kToQ + "'"), std::string::npos) << m;
  EXPECT_NE(m.find("[32,32]"), std::string::npos) << m;
  EXPECT_NE(m.find("attn1.to_q.weight"), std::string::npos) << m;
  EXPECT_NE(m.find("down [4,48]"), std::string::npos) << m;
}

TEST(LoraApply, LoraWithNothingForTheModelIsAnError) {
  const std::string te = "lora_te_text_model_encoder_layers_0_self_attn_q_proj";
  const std::string path = write_lora("te_only", {{te + ".lora_down.weight", Tensor::full({4, 32}, 0.01)},
                                                  {te + ".lora_up.weight", Tensor::full({32, 4}, 0.01)}});
  const std::string m = message_of([&] { one(path).check_components({"unet"}, false); });
  EXPECT_NE(m.find("change nothing"), std::string::npos) << m;
  EXPECT_EQ(message_of([&] { one(path).check_components({"unet", "text_encoder"}, true); }), "(no error)");
  const std::string both = write_lora("unet_and_te", {{te + ".lora_down.weight", Tensor::full({4, 32}, 0.01)},
                                                      {te + ".lora_up.weight", Tensor::full({32, 4}, 0.01)},
                                                      {kToQ + ".lora_down.weight", Tensor::full({4, 32}, 0.01)},
                                                      {kToQ + ".lora_up.weight", Tensor::full({32, 4}, 0.01)}});
  const std::string strict = message_of([&] { one(both).check_components({"unet", "text_encoder_2"}, true); });
  EXPECT_NE(strict.find("'" + te + "'"), std::string::npos) << strict;
  EXPECT_NE(m.find(path), std::string::npos) << m;
}

// The merged weight of `module` (a diffusers path of the sd15-tiny UNet) with `set`.
Tensor merged_unet_weight(const nn::LoraSet& set, const std::string& module, const Shape& shape) {
  nn::Component comp = nn::open_component(kUnet);
  const weights::LdmUNetLayout layout = models::ldm_unet_layout(models::UNet2DConditionConfig::from(comp.config));
  return set.wrap(*comp.weights, "unet", &layout)->get(module + ".weight", shape);
}

// The diffusers fixture file with its UNet keys renamed by `rename`.
std::string renamed_diffusers_file(const std::string& name, const std::function<std::string(std::string)>& rename) {
  const SafeTensorsFile f = SafeTensorsFile::open(kFixtures + "/lora/sd15/lora_a_diffusers.safetensors");
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const TensorInfo& t : f.tensors())
    if (t.name.starts_with("unet.")) tensors.emplace_back(rename(t.name), f.get(t.name));
  return write_lora(name, tensors);
}

void replace(std::string& s, const std::string& from, const std::string& to) {
  if (const std::size_t at = s.find(from); at != std::string::npos) s.replace(at, from.size(), to);
}

TEST(LoraFormats, DoubleUnetPrefixAndProcessorNamesMatchThePlainForm) {
  const nn::LoraSet plain = one(kFixtures + "/lora/sd15/lora_a_diffusers.safetensors");
  const nn::LoraSet doubled = one(renamed_diffusers_file("unet_unet", [](std::string k) { return "unet." + k; }));
  const nn::LoraSet processor = one(renamed_diffusers_file("processor", [](std::string k) {
    replace(k, ".to_out.0.lora.", ".processor.to_out_lora.");
    for (const char* p : {"to_q", "to_k", "to_v"}) replace(k, std::string(".") + p + ".lora.", std::string(".processor.") + p + "_lora.");
    return k;
  }));
  const std::string attn = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.";
  for (const std::string& module : {attn + "to_q", attn + "to_out.0", std::string("down_blocks.0.resnets.0.conv1")}) {
    const Shape shape = module.ends_with("conv1") ? Shape{32, 32, 3, 3} : Shape{32, 32};
    const std::vector<float> want = merged_unet_weight(plain, module, shape).to_vector();
    nn::Component base = nn::open_component(kUnet);
    EXPECT_NE(want, base.weights->get(module + ".weight", shape).to_vector()) << module << " not patched";
    EXPECT_EQ(merged_unet_weight(doubled, module, shape).to_vector(), want) << module;
    EXPECT_EQ(merged_unet_weight(processor, module, shape).to_vector(), want) << module;
  }
}

}  // namespace
}  // namespace diffnorm
