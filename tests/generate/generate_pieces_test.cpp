// The parts of `generate` the diffusers cases do not pin down: img2img's draw order and
// window, aspect buckets, the A1111 parameters chunk through a PNG, the model hash, and the
// errors at the boundary.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <gtest/gtest.h>

#include "generate_fixtures.h"
#include "io/image_resize.h"
#include "io/png.h"
#include "pipeline/aspect_buckets.h"
#include "pipeline/default_model.h"
#include "pipeline/generation_model_hash.h"
#include "pipeline/generation_parameters.h"
#include "pipeline/pipeline_generate.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_ops.h"
#include "pipeline/timesteps_window.h"

namespace diffnorm {
namespace {

// img2img as diffusers' StableDiffusionImg2ImgPipeline draws: the VAE posterior sample
// (mean + std * randn) first, then the add_noise noise, at timesteps[(n - int(n * s))].
// Recomputed here from the VAE and the generator directly; the initial latents must match bit for bit.
TEST(GenerateImg2Img, DrawOrderWindowAndInitialLatents) {
  const PipelineModels& m = test::pipeline("sd15-struct");
  const SafeTensorsFile t = test::case_tensors("sd15_img2img_euler");
  GenerationRequest r;
  r.prompt = "a photo of an astronaut riding a horse on mars, highly detailed";
  r.negative_prompt = "blurry, low quality, watermark";
  r.steps = 10;
  r.strength = 0.6;
  r.seed = 1254;
  r.sampler = "euler";
  r.init_image = t.get("image.input_uint8").contiguous();

  TorchGenerator gen(r.seed);
  Tensor x = Tensor::empty({1, 64, 64, 3});
  const Tensor u8 = r.init_image;
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = 2.0f * (float(u8.data<uint8_t>()[i]) / 255.0f) - 1.0f;
  const models::LatentDistribution d = m.vae->encode(x);
  const Tensor mean = d.mean.nhwc_to_nchw(), std = d.std.nhwc_to_nchw();
  const Tensor draw0 = gen.randn(mean.shape());
  const Tensor image_latents = sampler_ops::map(mean, std, draw0, [](float a, float s, float n) {
    return 0.18215f * (a + s * n);
  });
  auto sampler = make_sampler("euler", m.scheduler, 10);
  const TimestepWindow w = img2img_window(*sampler, 0.6);
  EXPECT_EQ(w.size(), 6);
  const Tensor initial = sampler->add_noise(image_latents, gen.randn(mean.shape()), w.begin);

  int steps = 0;
  std::vector<double> timesteps;
  Tensor got_initial;
  GenerationHooks hooks;
  hooks.on_initial_latents = [&](const Tensor& l) { got_initial = l.clone(); };
  hooks.on_step = [&](const std::string&, int, int, double ts, const Tensor&) {
    timesteps.push_back(ts);
    ++steps;
  };
  const GenerationResult res = generate(m, nullptr, r, hooks);
  EXPECT_EQ(steps, 6);
  EXPECT_EQ(timesteps.front(), sampler->timesteps()[w.begin]);
  EXPECT_EQ(got_initial.to_vector(), initial.to_vector());
  EXPECT_EQ(res.image.shape(), (Shape{64, 64, 3}));
  // Strength 1.0 keeps every step.
  r.strength = 1.0;
  steps = 0;
  hooks.on_initial_latents = nullptr;
  hooks.on_step = [&](const std::string&, int, int, double, const Tensor&) { ++steps; };
  generate(m, nullptr, r, hooks);
  EXPECT_EQ(steps, 10);
}

// An init image of another size is resized with Lanczos (as Pillow) to the size asked, or
// without one to its own size floored to a multiple of 8; the generation then equals one
// from the image resized beforehand.
TEST(GenerateImg2Img, ResizesTheInitImage) {
  const PipelineModels& m = test::pipeline("sd15-struct");
  const Tensor picture = test::case_tensors("sd15_img2img_euler").get("image.input_uint8").contiguous();
  GenerationRequest r;
  r.prompt = "a red fox";
  r.steps = 4;
  r.strength = 0.5;
  r.sampler = "euler";
  auto initial_latents_of = [&](const GenerationRequest& q) {
    Tensor got;
    GenerationHooks hooks;
    hooks.on_initial_latents = [&](const Tensor& l) { got = l.clone(); };
    const GenerationResult res = generate(m, nullptr, q, hooks);
    EXPECT_EQ(res.image.shape(), (Shape{q.height ? q.height : res.height, q.width ? q.width : res.width, 3}));
    return std::pair{got.to_vector(), res.image.to_vector()};
  };
  r.init_image = picture;
  r.width = 128, r.height = 48;
  const auto asked = initial_latents_of(r);
  r.init_image = resize_lanczos(picture, 128, 48);
  EXPECT_EQ(initial_latents_of(r), asked);

  r.init_image = resize_lanczos(picture, 70, 61);  // no size asked: 64x56
  r.width = r.height = 0;
  const GenerationResult own = generate(m, nullptr, r);
  EXPECT_EQ(own.width, 64);
  EXPECT_EQ(own.height, 56);
  const auto floored = initial_latents_of(r);
  r.init_image = resize_lanczos(resize_lanczos(picture, 70, 61), 64, 56);
  EXPECT_EQ(initial_latents_of(r), floored);

  r.init_image = Tensor::zeros({5, 7, 3}, DType::U8);  // smaller than one latent pixel
  EXPECT_THROW(generate(m, nullptr, r), Error);
}

TEST(GenerateErrors, SizesSamplersAndRefinerUse) {
  const PipelineModels& m = test::pipeline("sd15-struct");
  GenerationRequest r;
  r.prompt = "x";
  r.steps = 1;
  r.width = 60;
  r.height = 64;
  try {
    generate(m, nullptr, r);
    FAIL() << "60 px accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 8"), std::string::npos) << e.what();
  }
  r.width = 64;
  r.sampler = "bogus";
  try {
    generate(m, nullptr, r);
    FAIL() << "bogus sampler accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dpmpp_2m"), std::string::npos) << e.what();
  }
  r.sampler = "ddim";
  r.karras = true;
  EXPECT_THROW(generate(m, nullptr, r), Error);
  r.karras = false;
  EXPECT_THROW(generate(test::pipeline("sdxl-refiner-struct"), nullptr, r), Error);  // refiner needs -i
  EXPECT_THROW(load_diffusers_pipeline("/nonexistent/model"), Error);
}

TEST(AspectBuckets, NearestTrainingResolution) {
  EXPECT_EQ(sdxl_buckets().size(), 40u);
  for (const ImageSize& b : sdxl_buckets()) {
    EXPECT_EQ(b.width % 64, 0);
    EXPECT_EQ(b.height % 64, 0);
    EXPECT_NEAR(double(b.width) * b.height / (1024.0 * 1024.0), 0.95, 0.06);  // 0.9 to 1.0 of 1024²
  }
  EXPECT_EQ(nearest_sdxl_bucket(parse_aspect("16:9")), (ImageSize{1344, 768}));
  EXPECT_EQ(nearest_sdxl_bucket(parse_aspect("9:16")), (ImageSize{768, 1344}));
  EXPECT_EQ(nearest_sdxl_bucket(parse_aspect("1:1")), (ImageSize{1024, 1024}));
  EXPECT_EQ(nearest_sdxl_bucket(parse_aspect("3:2")), (ImageSize{1216, 832}));
  EXPECT_EQ(nearest_sdxl_bucket(parse_aspect("4:3")), (ImageSize{1152, 896}));
  EXPECT_EQ(nearest_sdxl_bucket(parse_aspect("21:9")), (ImageSize{1536, 640}));
  EXPECT_EQ(nearest_sdxl_bucket(parse_aspect("100")), (ImageSize{2048, 512}));
  EXPECT_THROW(parse_aspect("16x9"), Error);
  EXPECT_THROW(parse_aspect("0:1"), Error);
  EXPECT_THROW(parse_aspect(""), Error);
}

TEST(GenerationParameters, PngRoundTrip) {
  GenerationParameters p;
  p.prompt = "a (red:1.2) fox, snow\nBREAK forest";
  p.negative_prompt = "cartoon, lowres";
  p.settings = {{"Steps", "20"},        {"Sampler", "DPM++ 2M"}, {"Schedule type", "Karras"}, {"CFG scale", "7.5"},
                {"Seed", "1234"},       {"Size", "1344x768"},    {"Model hash", "0123456789"},
                {"Model", "sdxl: base, v1"}};
  const std::string text = format_generation_parameters(p);
  EXPECT_NE(text.find("Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 1234"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Model: \"sdxl: base, v1\""), std::string::npos) << text;  // A1111 quotes ',' and ':'

  const std::string path = (std::filesystem::temp_directory_path() / "diffnorm_generate_params_test.png").string();
  write_png(path, Tensor::full({8, 8, 3}, 0.5), {{"parameters", text}});
  const RgbImage back = read_png(path);
  std::filesystem::remove(path);
  ASSERT_EQ(back.text.size(), 1u);
  EXPECT_EQ(back.text[0].first, "parameters");
  const GenerationParameters q = parse_generation_parameters(back.text[0].second);
  EXPECT_EQ(q.prompt, p.prompt);
  EXPECT_EQ(q.negative_prompt, p.negative_prompt);
  EXPECT_EQ(q.settings, p.settings);
  EXPECT_EQ(a1111_sampler_label("euler_ancestral"), "Euler a");
}

TEST(GenerationParameters, ParsesA1111Text) {
  const GenerationParameters q = parse_generation_parameters(
      "masterpiece, cat\nNegative prompt: ugly\nSteps: 30, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x768, "
      "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly");
  EXPECT_EQ(q.prompt, "masterpiece, cat");
  EXPECT_EQ(q.negative_prompt, "ugly");
  EXPECT_EQ(q.get("Model hash"), "6ce0161689");
  EXPECT_EQ(q.get("Size"), "512x768");
}

TEST(ModelHash, Sha256OfAFile) {
  const std::string path = (std::filesystem::temp_directory_path() / "diffnorm_sha_test.bin").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << "abc";
  }
  EXPECT_EQ(sha256_file_hex(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 1000; ++i) out << "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/";
  }
  // 64000 bytes: several blocks and the padding in its own block.
  EXPECT_EQ(sha256_file_hex(path).size(), 64u);
  EXPECT_EQ(a1111_short_hash(path), sha256_file_hex(path).substr(0, 10));
  std::filesystem::remove(path);
  EXPECT_THROW(sha256_file_hex(path), Error);
}

TEST(DefaultModel, DeterministicAndQuick) {
  const PipelineModels m = make_default_pipeline();
  GenerationRequest r;
  r.prompt = "a photo of a cat";
  r.steps = 3;
  r.width = r.height = 64;
  const GenerationResult a = generate(m, nullptr, r);
  const GenerationResult b = generate(make_default_pipeline(), nullptr, r);
  EXPECT_EQ(a.image.to_vector(), b.image.to_vector());
  r.seed = 1;
  EXPECT_NE(generate(m, nullptr, r).image.to_vector(), a.image.to_vector());
}

}  // namespace
}  // namespace diffnorm

namespace diffnorm {
namespace {

// The fixtures' single files hold the folders' weights exactly (fp16-rounded both): the
// same request gives the same image from either.
TEST(GenerateSingleFile, MatchesTheDiffusersFolder) {
  for (const std::string name : {"sd15-struct", "sdxl-struct"}) {
    SCOPED_TRACE(name);
    const PipelineModels file = load_pipeline(test::pipelines_dir() + "/single_file/" + name + ".fp16.safetensors",
                                              {test::pipelines_dir() + "/" + name, std::nullopt});
    const PipelineModels& folder = test::pipeline(name);
    EXPECT_EQ(file.kind, folder.kind);
    GenerationRequest r;
    r.prompt = "a red fox";
    r.negative_prompt = "blurry";
    r.steps = 2;
    r.sampler = "euler";
    r.width = r.height = 64;
    EXPECT_EQ(generate(file, nullptr, r).image.to_vector(), generate(folder, nullptr, r).image.to_vector());
  }
}

// A single file has no scheduler or tokenizer: the SD defaults, Euler and the built-in
// vocabulary, unless --config-dir's folder has them, which then decide as for the folder.
TEST(GenerateSingleFile, SchedulerFromTheConfigFolder) {
  const std::string file = test::pipelines_dir() + "/single_file/sd15-struct.fp16.safetensors";
  const std::string folder = test::pipelines_dir() + "/sd15-struct";
  // The component configs alone: a folder of links to them, without scheduler/.
  const std::filesystem::path components =
      std::filesystem::temp_directory_path() / ("diffnorm_components_" + std::to_string(::getpid()));
  std::filesystem::remove_all(components);  // a stale one from a crashed run with the same pid
  std::filesystem::create_directories(components);
  for (const char* c : {"unet", "vae", "text_encoder"})
    std::filesystem::create_directory_symlink(folder + "/" + c, components / c);
  const PipelineModels bare = load_single_file_pipeline(file, {components.string(), std::nullopt});
  EXPECT_EQ(bare.default_sampler, "euler");
  EXPECT_EQ(bare.text_encoder->tokenizer.pad_id(), ClipTokenizer::kOpenAIPadId);  // built-in vocabulary
  // A tokenizer folder there is used: one padding with "!" (SDXL's tokenizer_2) shows it.
  std::filesystem::create_directory_symlink(test::pipelines_dir() + "/sdxl-struct/tokenizer_2",
                                            components / "tokenizer");
  EXPECT_EQ(load_single_file_pipeline(file, {components.string(), std::nullopt}).text_encoder->tokenizer.pad_id(), 0);
  std::filesystem::remove_all(components);
  const PipelineModels described = load_single_file_pipeline(file, {folder, std::nullopt});
  EXPECT_EQ(described.default_sampler, "pndm");  // sd15-struct/scheduler: PNDMScheduler
  EXPECT_EQ(described.scheduler.set_alpha_to_one, test::pipeline("sd15-struct").scheduler.set_alpha_to_one);
}

// The family is detected from the keys; naming it works when it is right and is a clear
// error when it is not (or unknown, or given for a folder).
TEST(GenerateSingleFile, FamilyOverride) {
  const std::string dir = test::pipelines_dir();
  EXPECT_EQ(parse_checkpoint_family("sd2"), ModelFamily::SD2Checkpoint);
  EXPECT_EQ(parse_checkpoint_family("sdxl"), ModelFamily::SDXLBaseCheckpoint);
  try {
    parse_checkpoint_family("sd3");
    FAIL() << "sd3 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sdxl-refiner"), std::string::npos) << e.what();
  }
  const std::string refiner_file = dir + "/single_file/sdxl-refiner-struct.fp16.safetensors";
  const PipelineModels named =
      load_pipeline(refiner_file, {dir + "/sdxl-refiner-struct", ModelFamily::SDXLRefinerCheckpoint});
  EXPECT_EQ(named.kind, PipelineKind::SDXLRefiner);
  EXPECT_THROW(load_pipeline(refiner_file, {dir + "/sdxl-refiner-struct", ModelFamily::SD1Checkpoint}), Error);
  EXPECT_THROW(load_pipeline(dir + "/sd15-struct", {"", ModelFamily::SD1Checkpoint}), Error);
}

}  // namespace
}  // namespace diffnorm
