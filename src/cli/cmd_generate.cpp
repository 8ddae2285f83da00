// `diffnorm generate`: text-to-image and image-to-image with SD 1.x / 2.x, SDXL base and the
// SDXL refiner, flag names after stable-diffusion.cpp / A1111:
//   diffnorm generate -m MODEL [--refiner MODEL --refiner-start 0.8] -p PROMPT [-n NEGATIVE]
//     [--steps N] [--cfg-scale S] [--sampler NAME] [--scheduler karras] [-s SEED]
//     [-W W -H H | --aspect 16:9] [--batch-count K] [-i INIT --strength X] -o OUT.png
// Without -m a built-in SD1.5-structured model with random weights runs (default_model.h).
// Single files carry no scheduler config: --prediction-type v_prediction (SD2.x 768-v) and
// --timestep-spacing, or --config-dir with the model's diffusers folder, say what it is;
// --family overrides the family detected from the keys. The init image (PNG or JPEG) is
// resized to the requested size with Lanczos, as A1111's "Just resize" and diffusers do.
// LoRAs: --lora FILE:WEIGHT (repeatable) and <lora:NAME:WEIGHT> tags in the prompt (NAME.safetensors
// in --lora-dir; the tag is removed from the text, A1111-style) are merged into the base model's
// weights at load time (not the refiner's). The PNG parameters keep the tags, get one appended
// per --lora (as A1111 does for LoRAs it adds itself), and list "Lora hashes".
// The PNG carries A1111's "parameters" text chunk; stderr shows per-step progress and a
// per-stage timing summary with the peak memory.
#include <chrono>
#include <filesystem>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "cli/command.h"
#include "core/check.h"
#include "io/image_file.h"
#include "io/png.h"
#include "ops/compute_precision.h"
#include "pipeline/aspect_buckets.h"
#include "pipeline/default_model.h"
#include "pipeline/generation_model_hash.h"
#include "pipeline/generation_parameters.h"
#include "pipeline/pipeline_generate.h"
#include "pipeline/progress_bar.h"
#include "pipeline/progress_report.h"
#include "pipeline/prompt_lora_tags.h"

namespace diffnorm::cli {
namespace {

namespace fs = std::filesystem;

struct GenerateArgs {
  std::string model, refiner, config_dir, refiner_config_dir, family, output = "output.png", init_image, aspect,
      scheduler = "default", prediction_type, timestep_spacing;
  std::vector<std::string> loras;  // --lora FILE:WEIGHT
  std::string lora_dir;            // where <lora:NAME:WEIGHT> finds NAME.safetensors
  std::optional<std::string> negative, prompt_2;
  std::optional<double> cfg_scale;
  GenerationRequest request;
  int batch_count = 1;
};

std::string output_path(const std::string& out, int index, int count) {
  if (count == 1) return out;
  const fs::path p(out);
  return (p.parent_path() / fmt::format("{}-{}{}", p.stem().string(), index, p.extension().string())).string();
}

// The LoRAs of one generation: the files to merge and what the PNG parameters say of them.
struct LoraUses {
  std::vector<nn::LoraChoice> choices;
  std::string prompt;  // the user's prompt with a tag appended per --lora
  std::string hashes;  // A1111's "Lora hashes" value: "name: hash10, ..."
};

LoraUses lora_uses(const GenerateArgs& a, const std::string& prompt, const std::vector<PromptLoraTag>& tags) {
  LoraUses u;
  u.prompt = prompt;
  auto add = [&](const nn::LoraChoice& c) {
    DN_CHECK(fs::is_regular_file(c.path), "LoRA file {} not found", c.path);
    const std::string name = fs::path(c.path).stem().string();
    u.hashes += fmt::format("{}{}: {}", u.hashes.empty() ? "" : ", ", name, a1111_short_hash(c.path));
    u.choices.push_back(c);
  };
  for (const PromptLoraTag& t : tags) {
    DN_CHECK(!a.lora_dir.empty(), "the prompt names <lora:{}:{}>: give --lora-dir DIR holding {}.safetensors", t.name,
             t.weight, t.name);
    add({(fs::path(a.lora_dir) / (t.name + ".safetensors")).string(), t.weight});
  }
  for (const std::string& arg : a.loras) {
    const nn::LoraChoice c = nn::parse_lora_choice(arg);
    add(c);
    u.prompt += fmt::format(" <lora:{}:{}>", fs::path(c.path).stem().string(), c.weight);
  }
  return u;
}

GenerationParameters parameters_of(const GenerationRequest& r, const GenerationResult& res, const PipelineModels& m,
                                   const std::string& hash, const PipelineModels* refiner, bool img2img,
                                   const LoraUses& loras) {
  GenerationParameters p;
  p.prompt = loras.prompt;
  p.negative_prompt = r.negative_prompt.value_or("");
  auto add = [&](std::string k, std::string v) { p.settings.emplace_back(std::move(k), std::move(v)); };
  add("Steps", std::to_string(r.steps));
  add("Sampler", a1111_sampler_label(res.sampler));
  if (res.sampler.find("karras") != std::string::npos) add("Schedule type", "Karras");
  add("CFG scale", fmt::format("{}", r.cfg_scale));
  add("Seed", std::to_string(r.seed));
  add("Size", fmt::format("{}x{}", res.width, res.height));
  if (!hash.empty()) add("Model hash", hash);
  add("Model", m.name);
  if (img2img) add("Denoising strength", fmt::format("{}", r.strength));
  if (r.text.clip_skip > 1) add("Clip skip", std::to_string(r.text.clip_skip));
  if (refiner) {
    add("Refiner", refiner->name);
    add("Refiner switch at", fmt::format("{}", r.refiner_start));
  }
  if (!loras.hashes.empty()) add("Lora hashes", loras.hashes);
  // Not an A1111 key: the image differs slightly from an fp32 run with the same settings.
  if (ops::compute_precision() != ops::ComputePrecision::F32)
    add("Precision", std::string(ops::to_string(ops::compute_precision())));
  add("Version", "diffnorm 0.1.0");
  return p;
}

// The choices that need no model, checked before a possibly long load.
void resolve_request_options(GenerateArgs& a) {
  GenerationRequest& r = a.request;
  if (!a.aspect.empty()) {
    DN_CHECK(r.width == 0 && r.height == 0, "give either --aspect or -W/-H, not both");
    const ImageSize s = nearest_sdxl_bucket(parse_aspect(a.aspect));
    r.width = s.width, r.height = s.height;
  }
  if (r.width || r.height) check_image_size(r.width ? r.width : 8, r.height ? r.height : 8, 8);
  DN_CHECK(a.scheduler == "default" || a.scheduler == "karras",
           "unknown --scheduler '{}' (valid: default, karras)", a.scheduler);
  r.karras = a.scheduler == "karras";
  if (!a.prediction_type.empty()) r.prediction_type = parse_prediction_type(a.prediction_type);
  if (!a.timestep_spacing.empty()) r.timestep_spacing = parse_timestep_spacing(a.timestep_spacing);
  DN_CHECK(a.batch_count >= 1, "--batch-count must be at least 1, got {}", a.batch_count);
  if (!a.init_image.empty()) r.init_image = rgb_tensor(read_image(a.init_image));
}

void run_generate(GenerateArgs a) {
  using Clock = std::chrono::steady_clock;
  GenerationRequest& r = a.request;
  resolve_request_options(a);
  SingleFileChoice base_choice{a.config_dir, std::nullopt};
  if (!a.family.empty()) base_choice.family = parse_checkpoint_family(a.family);
  DN_CHECK(!a.model.empty() || (a.config_dir.empty() && a.family.empty()),
           "--config-dir and --family describe the -m MODEL file: give -m");
  auto t0 = Clock::now();
  const PromptWithoutLoraTags tagged = extract_lora_tags(r.prompt);
  const LoraUses loras = lora_uses(a, r.prompt, tagged.tags);
  r.prompt = tagged.text;
  PipelineModels base;
  if (a.model.empty()) {
    DN_CHECK(loras.choices.empty(), "LoRAs need a real model: give -m MODEL");
    fmt::print(stderr,
               "note: no -m given: using the built-in SD1.5-structured default model with RANDOM weights "
               "(the image is noise; pass -m MODEL for a real one)\n");
    base = make_default_pipeline();
  } else {
    base = load_pipeline(a.model, base_choice, nn::LoraSet::load(loras.choices));
  }
  std::optional<PipelineModels> refiner;
  if (!a.refiner.empty()) refiner = load_pipeline(a.refiner, {a.refiner_config_dir, std::nullopt});
  const std::string hash = base.hash_file.empty() ? "" : a1111_short_hash(base.hash_file);
  const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  fmt::print(stderr, "loaded {} ({}){}{} in {:.2f} s\n", base.name, to_string(base.kind),
             refiner ? " + refiner " + refiner->name : "",
             loras.choices.empty() ? "" : fmt::format(" with {} LoRA(s) merged", loras.choices.size()), load_s);

  r.negative_prompt = a.negative;
  r.prompt_2 = a.prompt_2;
  r.cfg_scale = a.cfg_scale.value_or(base.kind == PipelineKind::SD ? 7.5 : 5.0);

  ProgressBar bar;
  GenerationHooks hooks;
  hooks.on_stage = [&](const std::string&) { bar.restart(); };
  hooks.on_step = [&](const std::string& stage, int step, int steps, double, const Tensor&) {
    bar.update(stage, step + 1, steps);
  };
  GenerationTimings total;
  const uint64_t seed0 = r.seed;
  for (int i = 0; i < a.batch_count; ++i) {
    r.seed = seed0 + uint64_t(i);
    const GenerationResult res = generate(base, refiner ? &*refiner : nullptr, r, hooks);
    if (i == 0 && r.init_image.defined() && (r.init_image.size(0) != res.height || r.init_image.size(1) != res.width))
      fmt::print(stderr, "init image {}x{} resized to {}x{} (Lanczos)\n", r.init_image.size(1), r.init_image.size(0),
                 res.width, res.height);
    total.text_encoding += res.timings.text_encoding;
    total.sampling += res.timings.sampling;
    total.decoding += res.timings.decoding;
    const std::string path = output_path(a.output, i, a.batch_count);
    const GenerationParameters params =
        parameters_of(r, res, base, hash, refiner ? &*refiner : nullptr, r.init_image.defined(), loras);
    write_png(path, res.image, {{"parameters", format_generation_parameters(params)}});
    fmt::print(stderr, "wrote {} ({}x{}, seed {}, sampler {})\n", path, res.width, res.height, r.seed, res.sampler);
  }
  fmt::print(stderr, "timing: {}\n",
             format_stage_summary({{"load", load_s},
                                   {"text encoding", total.text_encoding},
                                   {"sampling", total.sampling},
                                   {"decoding", total.decoding}}));
}

const RegisterCommand kGenerate{
    {"generate", "Generate images with SD 1.x/2.x, SDXL base (+ refiner): txt2img and img2img", [](CLI::App& sub) {
       auto a = std::make_shared<GenerateArgs>();
       GenerationRequest& r = a->request;
       r.seed = 42;
       sub.add_option("-m,--model", a->model,
                      "Diffusers pipeline folder or single-file .safetensors (default: a built-in tiny model with "
                      "random weights)");
       sub.add_option("--config-dir", a->config_dir,
                      "Single-file -m: a diffusers folder whose component configs (and scheduler config, when it has "
                      "one) describe it");
       sub.add_option("--family", a->family,
                      "Single-file -m: sd1, sd2, sdxl-base or sdxl-refiner (default: detected from the keys)");
       sub.add_option("--prediction-type", a->prediction_type,
                      "epsilon or v_prediction (SD2.x 768-v single files need v_prediction; default: the model's "
                      "scheduler config, epsilon for single files)");
       sub.add_option("--timestep-spacing", a->timestep_spacing,
                      "leading, trailing or linspace (default: the model's scheduler config, leading for single "
                      "files)");
       sub.add_option("--lora", a->loras, "LoRA merged into the model, FILE:WEIGHT (repeatable)");
       sub.add_option("--lora-dir", a->lora_dir, "Folder where prompt tags <lora:NAME:WEIGHT> find NAME.safetensors");
       sub.add_option("--refiner", a->refiner,
                      "SDXL refiner (diffusers folder or single file): continues the base's latents");
       sub.add_option("--refiner-config-dir", a->refiner_config_dir, "As --config-dir, for a single-file --refiner");
       sub.add_option("--refiner-start", r.refiner_start, "Fraction of the schedule the base runs before the refiner")
           ->check(CLI::Range(0.0, 1.0));
       sub.add_option("-p,--prompt", r.prompt, "The prompt (A1111 emphasis syntax, BREAK and <lora:NAME:WEIGHT>)")
           ->required();
       sub.add_option_function<std::string>(
           "--prompt-2", [a](const std::string& s) { a->prompt_2 = s; }, "SDXL: prompt for the second text encoder");
       sub.add_option_function<std::string>(
           "-n,--negative-prompt", [a](const std::string& s) { a->negative = s; },
           "Negative prompt (SDXL base without one: zero embeddings, as diffusers)");
       sub.add_option("--steps", r.steps, "Sampling steps")->check(CLI::Range(1, 10000));
       sub.add_option_function<double>(
              "--cfg-scale", [a](const double& s) { a->cfg_scale = s; },
              "Classifier-free guidance scale (default 7.5 SD, 5 SDXL; <= 1 disables guidance)");
       sub.add_option("--sampler", r.sampler,
                      "euler, euler_a, heun, lms, dpmpp_2m, ddim, pndm (default: the model folder's scheduler)");
       sub.add_option("--scheduler", a->scheduler, "Sigma schedule: default or karras (euler, dpmpp_2m)");
       sub.add_option("-s,--seed", r.seed, "Seed of the torch-exact CPU generator (default 42)");
       sub.add_option("-W,--width", r.width, "Image width, a multiple of 8 (default: the model's size)");
       sub.add_option("-H,--height", r.height, "Image height, a multiple of 8 (default: the model's size)");
       sub.add_option("--aspect", a->aspect, "Aspect ratio W:H: the nearest SDXL training resolution (16:9 -> 1344x768)");
       sub.add_option("--batch-count", a->batch_count, "Images to generate, with seeds s, s+1, ...");
       sub.add_option("-i,--init-img", a->init_image,
                      "Init image (PNG or JPEG) for img2img, resized to -W x -H when it differs (Lanczos)")
           ->check(CLI::ExistingFile);
       sub.add_option("--strength", r.strength, "img2img strength in (0, 1]")->check(CLI::Range(0.0, 1.0));
       sub.add_option("--clip-skip", r.text.clip_skip, "Use the hidden state N-1 layers before the usual one")
           ->check(CLI::Range(1, 64));
       sub.add_option("--aesthetic-score", r.micro.aesthetic_score, "SDXL refiner aesthetic score (default 6)");
       sub.add_option("--negative-aesthetic-score", r.micro.negative_aesthetic_score,
                      "SDXL refiner aesthetic score of the negative half (default 2.5)");
       sub.add_option("-o,--output", a->output, "Output PNG (with --batch-count K: OUT-0.png ... OUT-(K-1).png)");
       return std::function<void()>([a] { run_generate(*a); });
     }}};

}  // namespace
}  // namespace diffnorm::cli
