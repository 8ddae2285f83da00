// LoRA, LoCon, LoHa and LoKr against ../shared/fixtures/lora (diffusers 0.23.1 for LoRA /
// LoCon in the kohya, diffusers and PEFT key formats and the SGM-named SDXL file; the
// fixture's own float64 merge of the published LyCORIS formulas for LoHa / LoKr).
//
// Metric (the fixture README's): max|ours − ref| / max|ref| <= 1e-5 for network outputs and
// merged weights (float32 against float32); ΔW against the fixture's float64 ΔW <= 1e-12.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "adapt/fixture_file.h"
#include "models/load_with_loras.h"
#include "models/model_io.h"
#include "models/unet_ldm_layout.h"
#include "nn/component.h"
#include "nn/lora_set.h"
#include "weights/lora_delta.h"

namespace diffnorm {
namespace {

const std::string kFixtures = std::string(DN_SHARED_DIR) + "/fixtures";
const std::string kLora = kFixtures + "/lora";

constexpr double kOutputTol = 1e-5;

double rel_error(const Tensor& got, const Tensor& ref) {
  const std::vector<float> a = got.to_vector(), r = ref.to_vector();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(double(a[i]) - double(r[i]));
    diff = std::isnan(d) ? INFINITY : std::max(diff, d);
    scale = std::max(scale, std::abs(double(r[i])));
  }
  return diff / scale;
}

void expect_close(const std::string& what, const Tensor& got, const Tensor& ref, double tol = kOutputTol) {
  ASSERT_EQ(shape_str(got.shape()), shape_str(ref.shape())) << what;
  const double e = rel_error(got, ref);
  EXPECT_LE(e, tol) << what << ": max|diff| / max|ref| = " << e;
  std::printf("  %-70s rel %.2e\n", what.c_str(), e);
}

// A fixture tensor as float32 (int64 for token ids). The expected files also hold float64
// tensors, which the library's reader does not take, hence the test reader.
Tensor tensor(const test::FixtureFile& file, const std::string& name) {
  const std::vector<double> v = file.values(name);
  const bool ids = name.ends_with("input_ids");
  Tensor t = Tensor::empty(file.shape(name), ids ? DType::I64 : DType::F32);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (ids)
      t.data<int64_t>()[i] = int64_t(v[i]);
    else
      t.data<float>()[i] = float(v[i]);
  }
  return t;
}

// The tensors "<prefix>*" of `file` renamed "in.*" (the model_io input names).
models::NamedTensors inputs(const test::FixtureFile& file, const std::string& prefix) {
  models::NamedTensors in;
  for (const std::string& name : file.names())
    if (name.starts_with(prefix)) in["in." + name.substr(prefix.size())] = tensor(file, name);
  return in;
}

nn::LoraSet loras(const std::vector<std::pair<std::string, double>>& files) {
  std::vector<nn::LoraChoice> choices;
  for (const auto& [f, w] : files) choices.push_back({f, w});
  return nn::LoraSet::load(choices);
}

struct TextEncoderCase {
  std::string dir, component, expected_prefix;  // "te", "te1", "te2"
  std::vector<std::string> outputs;
};

class LoraFixture {
 public:
  explicit LoraFixture(const std::string& part) : part_(part), expected_(kLora + "/" + part + "/expected.safetensors") {}

  /// Runs the UNet and text encoders with `set` and compares with out.<case>.*.
  void check_case(const std::string& case_name, const nn::LoraSet& set) const {
    SCOPED_TRACE(part_ + " " + case_name);
    const std::string unet_dir = kFixtures + (part_ == "sd15" ? "/sd15-tiny/unet" : "/sdxl-tiny/unet");
    const auto unet = models::load_unet(unet_dir, set);
    const auto out = models::run_unet(unet, inputs(expected_, "in.unet."));
    expect_close(case_name + " unet.sample", out.at("out.sample"), tensor(expected_, "out." + case_name + ".unet.sample"));
    for (const TextEncoderCase& te : text_encoders()) {
      const auto model = models::load_text_encoder(te.dir, set);
      const auto o = models::run_text_encoder(model, inputs(expected_, "in." + te.expected_prefix + "."));
      for (const std::string& name : te.outputs)
        expect_close(case_name + " " + te.expected_prefix + "." + name, o.at("out." + name),
                     tensor(expected_, "out." + case_name + "." + te.expected_prefix + "." + name));
    }
  }

  /// Compares the merged weights "<stored_prefix><component>.<key>" with `set` applied.
  void check_merged(const std::string& stored_prefix, const nn::LoraSet& set) const {
    for (const std::string& name : expected_.names()) {
      if (!name.starts_with(stored_prefix)) continue;
      const std::string rest = name.substr(stored_prefix.size());
      const std::string tag = rest.substr(0, rest.find('.')), key = rest.substr(rest.find('.') + 1);
      const std::string dir = tag == "unet" ? kFixtures + (part_ == "sd15" ? "/sd15-tiny/unet" : "/sdxl-tiny/unet")
                              : tag == "te2" ? kFixtures + "/clip-g-tiny/text_encoder_2"
                                             : kFixtures + "/clip-l-tiny/text_encoder";
      const std::string component = tag == "unet" ? "unet" : tag == "te2" ? "text_encoder_2" : "text_encoder";
      nn::Component comp = nn::open_component(dir);
      std::optional<weights::LdmUNetLayout> layout;
      if (component == "unet") layout = models::ldm_unet_layout(models::UNet2DConditionConfig::from(comp.config));
      auto w = set.wrap(*comp.weights, component, layout ? &*layout : nullptr);
      expect_close(name, w->get(key, expected_.shape(name)), tensor(expected_, name));
    }
  }

 private:
  std::vector<TextEncoderCase> text_encoders() const {
    if (part_ == "sd15")
      return {{kFixtures + "/clip-l-tiny/text_encoder", "text_encoder", "te",
               {"last_hidden_state", "penultimate_hidden_state", "pooler_output"}}};
    return {{kFixtures + "/clip-l-tiny/text_encoder", "text_encoder", "te1",
             {"last_hidden_state", "penultimate_hidden_state", "pooler_output"}},
            {kFixtures + "/clip-g-tiny/text_encoder_2", "text_encoder_2", "te2",
             {"last_hidden_state", "penultimate_hidden_state", "text_embeds"}}};
  }

  std::string part_;
  test::FixtureFile expected_;
};

const std::string kKohyaA = kLora + "/sd15/lora_a_kohya.safetensors";

TEST(LoraFixtures, Sd15KohyaLoraAndLoConAtTwoWeights) {
  const LoraFixture f("sd15");
  f.check_case("lora_1p0", loras({{kKohyaA, 1.0}}));
  f.check_case("lora_0p6", loras({{kKohyaA, 0.6}}));
}

TEST(LoraFixtures, Sd15DiffusersAndPeftKeyFormatsGiveTheSameModel) {
  const LoraFixture f("sd15");
  for (const char* file : {"lora_a_diffusers.safetensors", "lora_a_peft.safetensors"}) {
    f.check_case("lora_1p0", loras({{kLora + "/sd15/" + file, 1.0}}));
    f.check_case("lora_0p6", loras({{kLora + "/sd15/" + file, 0.6}}));
  }
}

TEST(LoraFixtures, Sd15FusedWeights) {
  const LoraFixture f("sd15");
  f.check_merged("fused_1p0.", loras({{kKohyaA, 1.0}}));
  f.check_merged("fused_0p6.", loras({{kKohyaA, 0.6}}));
}

TEST(LoraFixtures, Sd15LoraWithoutAlphaAndTwoLorasAtOnce) {
  const LoraFixture f("sd15");
  const std::string b = kLora + "/sd15/lora_b_kohya.safetensors";
  f.check_case("lora_b_1p0", loras({{b, 1.0}}));
  f.check_case("two_0p8_0p45", loras({{kKohyaA, 0.8}, {b, 0.45}}));
}

TEST(LoraFixtures, Sd15LoHaAndLoKr) {
  const LoraFixture f("sd15");
  for (const char* kind : {"loha", "lokr"}) {
    const std::string file = kLora + "/sd15/" + kind + ".safetensors";
    f.check_case(std::string(kind) + "_1p0", loras({{file, 1.0}}));
    f.check_case(std::string(kind) + "_0p6", loras({{file, 0.6}}));
    f.check_merged(std::string(kind) + ".merged_1p0.", loras({{file, 1.0}}));
  }
}

// ΔW in float64 against the fixture's float64 ΔW of the same (f16 / f32) factors.
TEST(LoraFixtures, Sd15LoHaAndLoKrDeltasInFloat64) {
  const test::FixtureFile expected(kLora + "/sd15/expected.safetensors");
  int checked = 0;
  for (const char* kind : {"loha", "lokr"}) {
    const weights::LoraFile file = weights::read_lora_file(kLora + "/sd15/" + kind + ".safetensors");
    const std::string prefix = std::string(kind) + ".delta64.";
    for (const std::string& name : expected.names()) {
      if (!name.starts_with(prefix)) continue;
      const std::string module = name.substr(prefix.size());
      const auto it = std::find_if(file.patches.begin(), file.patches.end(), [&](const weights::LoraPatch& p) {
        return p.module == weights::flatten_module_path(module);
      });
      ASSERT_NE(it, file.patches.end()) << module;
      const std::vector<double> delta = weights::lora_delta(*it, expected.shape(name), file.path);
      const std::vector<double> r = expected.values(name);
      double diff = 0, scale = 0;
      for (std::size_t i = 0; i < delta.size(); ++i) {
        diff = std::max(diff, std::abs(delta[i] - r[i]));
        scale = std::max(scale, std::abs(r[i]));
      }
      EXPECT_LE(diff / scale, 1e-12) << name;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 14);
}

TEST(LoraFixtures, SdxlKohyaWithSgmBlockNames) {
  const LoraFixture f("sdxl");
  const std::string file = kLora + "/sdxl/lora_kohya_sgm.safetensors";
  f.check_case("lora_1p0", loras({{file, 1.0}}));
  f.check_case("lora_0p6", loras({{file, 0.6}}));
  f.check_merged("fused_1p0.", loras({{file, 1.0}}));
  f.check_merged("fused_0p6.", loras({{file, 0.6}}));
}

}  // namespace
}  // namespace diffnorm
