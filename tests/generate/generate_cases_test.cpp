// End-to-end generations against shared/fixtures/pipelines/cases (diffusers 0.23.1 on CPU,
// float32): each case is regenerated from the diffusers folders with the case's seed and
// arguments, and the prompt embeddings, SDXL pooled embeddings and time ids, every step's
// latents, the final latents, the decoded image and the uint8 picture are compared.
// Tolerance: a float32 implementation differs from the reference by rounding only; the
// fixtures record how far float32 is from float64 for every tensor (case.json f32_vs_f64),
// and our error must stay within 10x of that (relative to the tensor's max |value|), with a
// floor of 2e-6 for tensors that happen to be computed almost exactly there.
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "diffnorm/safetensors.h"
#include "generate_fixtures.h"
#include "pipeline/pipeline_generate.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_ops.h"
#include "pipeline/timesteps_window.h"

namespace diffnorm {
namespace {

using test::case_json;
using test::case_tensors;
using test::pipeline;

struct Worst {
  double ratio = 0;  // error / tolerance, the worst seen
  std::string what;
};
Worst g_worst;

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to_vector()) m = std::max(m, double(std::abs(v)));
  return m;
}

// Relative max error of `got` vs `want`, checked against 10x the fixture's float32-vs-float64 rel.
void expect_close(const std::string& case_name, const nlohmann::json& c, const std::string& key, const Tensor& got,
                  const Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape()) << case_name << " " << key;
  const std::vector<float> a = got.to_vector(), b = want.to_vector();
  double err = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(std::isfinite(a[i])) << case_name << " " << key << " element " << i;
    err = std::max(err, double(std::abs(a[i] - b[i])));
  }
  const double scale = std::max(max_abs(want), 1e-30);
  const double rel = err / scale;
  double ref_rel = 0;
  if (c["f32_vs_f64"].contains(key)) ref_rel = c["f32_vs_f64"][key]["rel"].get<double>();
  const double tol = std::max(10 * ref_rel, 2e-6);
  EXPECT_LE(rel, tol) << case_name << " " << key << ": max abs err " << err << " (f32 vs f64 in the reference: rel "
                      << ref_rel << ")";
  if (rel / tol > g_worst.ratio) g_worst = {rel / tol, fmt::format("{} {} rel {:.3g} (tol {:.3g})", case_name, key, rel, tol)};
}

// The uint8 picture: at most a few pixels may round the other way, by 1.
void expect_pixels(const std::string& case_name, const Tensor& image01, const Tensor& want_u8) {
  const std::vector<float> a = image01.to_vector();
  const std::vector<float> b = want_u8.to_vector();
  ASSERT_EQ(a.size(), b.size());
  int64_t differing = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double px = std::nearbyint(double(a[i]) * 255.0);
    EXPECT_LE(std::abs(px - b[i]), 1) << case_name << " pixel value " << i;
    differing += px != b[i];
  }
  EXPECT_LE(differing, int64_t(a.size() / 1000 + 4)) << case_name << ": uint8 values differing";
}

GenerationRequest request_of(const nlohmann::json& params, const nlohmann::json& call) {
  GenerationRequest r;
  r.prompt = call["prompt"];
  if (call.contains("prompt_2") && !call["prompt_2"].is_null()) r.prompt_2 = call["prompt_2"].get<std::string>();
  if (!call["negative_prompt"].is_null()) r.negative_prompt = call["negative_prompt"].get<std::string>();
  r.steps = call["num_inference_steps"];
  r.cfg_scale = call["guidance_scale"];
  r.seed = params["seed"];
  r.height = params["height"];
  r.width = params["width"];
  const std::string cls = params["scheduler"];
  const nlohmann::json& over = params["scheduler_overrides"];
  r.sampler = sampler_for_scheduler_class(cls, over.value("use_karras_sigmas", false));
  if (over.contains("prediction_type")) r.prediction_type = parse_prediction_type(over["prediction_type"].get<std::string>());
  if (over.contains("timestep_spacing"))
    r.timestep_spacing = parse_timestep_spacing(over["timestep_spacing"].get<std::string>());
  auto size = [](const nlohmann::json& v) { return SizeHW{v[0].get<int>(), v[1].get<int>()}; };
  if (call.contains("original_size")) r.micro.original_size = size(call["original_size"]);
  if (call.contains("crops_coords_top_left")) r.micro.crop_top_left = size(call["crops_coords_top_left"]);
  if (call.contains("target_size")) r.micro.target_size = size(call["target_size"]);
  return r;
}

// Prompt embeddings (+ SDXL pooled and time ids) of one stage as diffusers built them.
void check_conditioning(const std::string& name, const nlohmann::json& c, const std::string& prefix,
                        const PipelineModels& m, const GenerationRequest& r, const SafeTensorsFile& t) {
  const TextConditioning pos = encode_prompt(m, r.prompt, r.prompt_2);
  TextConditioning neg = !r.negative_prompt && m.force_zeros_for_empty_prompt
                             ? zeros_like(pos)
                             : encode_prompt(m, r.negative_prompt.value_or(""));
  expect_close(name, c, prefix + "prompt_embeds", pos.context, t.get(prefix + "prompt_embeds"));
  expect_close(name, c, prefix + "negative_prompt_embeds", neg.context, t.get(prefix + "negative_prompt_embeds"));
  if (m.kind == PipelineKind::SD) return;
  expect_close(name, c, prefix + "pooled_prompt_embeds", pos.pooled, t.get(prefix + "pooled_prompt_embeds"));
  expect_close(name, c, prefix + "negative_pooled_prompt_embeds", neg.pooled,
               t.get(prefix + "negative_pooled_prompt_embeds"));
  const SdxlTimeIds ids = sdxl_time_ids(r.micro, r.height, r.width, m.kind == PipelineKind::SDXLRefiner);
  EXPECT_EQ(ids.positive.to_vector(), t.get(prefix + "add_time_ids").to_vector()) << name;
  EXPECT_EQ(ids.negative.to_vector(), t.get(prefix + "negative_add_time_ids").to_vector()) << name;
}

void run_case(const std::string& name) {
  SCOPED_TRACE(name);
  const nlohmann::json c = case_json(name);
  const SafeTensorsFile t = case_tensors(name);
  const nlohmann::json& params = c["params"];
  const bool refined = c["stages"].contains("refiner.");
  const std::string base_prefix = refined ? "base." : "";
  const nlohmann::json& call = c["stages"][base_prefix]["call"];
  GenerationRequest r = request_of(params, call);
  const PipelineModels& base = pipeline(c["pipeline_folder"].get<std::string>() == "sd15-struct" ? "sd15-struct"
                                                                                                  : "sdxl-struct");
  const PipelineModels* refiner = nullptr;
  if (refined) {
    refiner = &pipeline("sdxl-refiner-struct");
    r.refiner_start = params["denoising_end"];
    r.refiner_seed = params["refiner_seed"].get<uint64_t>();
    r.micro.aesthetic_score = params["aesthetic_score"];
    r.micro.negative_aesthetic_score = params["negative_aesthetic_score"];
  }
  check_conditioning(name, c, base_prefix, base, r, t);
  if (refiner) check_conditioning(name, c, "refiner.", *refiner, r, t);

  GenerationHooks hooks;
  hooks.on_step = [&](const std::string& stage, int step, int, double, const Tensor& latents) {
    const std::string prefix = refined ? stage + "." : "";
    expect_close(name, c, prefix + fmt::format("step.{}.latents", step), latents,
                 t.get(prefix + fmt::format("step.{}.latents", step)));
    if (refined && stage == "base" && step + 1 == int(c["stages"]["base."]["timesteps_used"].size()))
      expect_close(name, c, "base.latents.final", latents, t.get("base.latents.final"));
  };
  const GenerationResult res = generate(base, refiner, r, hooks);
  const std::string last = refined ? "refiner." : "";
  expect_close(name, c, last + "latents.final", res.latents, t.get(last + "latents.final"));
  expect_close(name, c, last + "image.decoded", res.decoded, t.get(last + "image.decoded"));
  expect_close(name, c, last + "image.float01", res.image.reshape({1, r.height, r.width, 3}).nhwc_to_nchw(),
               t.get(last + "image.float01"));
  expect_pixels(name, res.image, t.get(last + "image.uint8"));
}

TEST(GenerateCases, Sd15Euler) { run_case("sd15_euler"); }
TEST(GenerateCases, Sd15EulerAncestral) { run_case("sd15_euler_ancestral"); }
TEST(GenerateCases, Sd15DpmPp2mKarras) { run_case("sd15_dpmpp_2m_karras"); }
TEST(GenerateCases, Sd15Ddim) { run_case("sd15_ddim"); }
TEST(GenerateCases, Sd15Pndm) { run_case("sd15_pndm"); }
TEST(GenerateCases, Sd15VPredictionTrailing) { run_case("sd15_vpred_euler_trailing"); }
TEST(GenerateCases, Sd15OddLatentSize) { run_case("sd15_euler_odd_latent"); }
// The recorded sd15_img2img_euler run is a txt2img call at 64x64 (diffusers' txt2img
// pipeline drew the initial noise and ran all 10 steps; see tests/pipeline); it is
// reproduced as what it recorded. The img2img path itself is checked in generate_pieces_test.cpp.
TEST(GenerateCases, Sd15Img2ImgCaseAsRecorded) { run_case("sd15_img2img_euler"); }
TEST(GenerateCases, SdxlMicroConditioning) { run_case("sdxl_euler_microcond"); }
TEST(GenerateCases, SdxlZeroNegative) { run_case("sdxl_euler_zero_negative"); }
TEST(GenerateCases, SdxlEmptyNegative) { run_case("sdxl_euler_empty_negative"); }
TEST(GenerateCases, SdxlBaseRefiner) { run_case("sdxl_base_refiner"); }

TEST(GenerateCases, ZWorstErrorReport) {
  // Not a check: prints the worst error / tolerance over the cases run before it.
  std::printf("worst error/tolerance %.3f: %s\n", g_worst.ratio, g_worst.what.c_str());
}

}  // namespace
}  // namespace diffnorm
