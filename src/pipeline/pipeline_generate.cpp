#include "pipeline/pipeline_generate.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "io/image_resize.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_loop.h"
#include "pipeline/sampler_ops.h"
#include "pipeline/timesteps_window.h"

namespace diffnorm {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Tensors [1, ...] stacked along a new first dimension of size parts.size().
Tensor stack_batch(const std::vector<Tensor>& parts) {
  Shape shape = parts[0].shape();
  shape[0] = int64_t(parts.size());
  Tensor out = Tensor::empty(shape);
  std::size_t at = 0;
  for (const Tensor& p : parts) {
    const Tensor c = p.contiguous();
    DN_CHECK(c.numel() * int64_t(parts.size()) == out.numel(), "stack_batch: {} does not fit {}", c.describe(),
             out.describe());
    std::memcpy(static_cast<char*>(out.raw()) + at, c.raw(), c.nbytes());
    at += c.nbytes();
  }
  return out;
}

// The UNet inputs that stay fixed over a stage: the context and SDXL's added conditions of
// the batch [negative, positive] (or [positive] without guidance).
struct StageConditioning {
  Tensor context;
  models::UNetAddedCond added;
  bool guided = false;
};

StageConditioning condition(const PipelineModels& m, const GenerationRequest& r, int height, int width) {
  StageConditioning s;
  s.guided = r.cfg_scale > 1.0;
  TextConditioning pos = encode_prompt(m, r.prompt, r.prompt_2, r.text);
  TextConditioning neg;
  if (s.guided) {
    // diffusers: zeros only when no negative prompt is given at all (None), never for "".
    if (!r.negative_prompt && m.force_zeros_for_empty_prompt)
      neg = zeros_like(pos);
    else
      neg = encode_prompt(m, r.negative_prompt.value_or(""), std::nullopt, r.text);
    match_token_counts(m, neg, pos, r.text);
  }
  s.context = s.guided ? stack_batch({neg.context, pos.context}) : pos.context;
  if (m.kind != PipelineKind::SD) {
    const SdxlTimeIds ids = sdxl_time_ids(r.micro, height, width, m.kind == PipelineKind::SDXLRefiner);
    s.added.text_embeds = s.guided ? stack_batch({neg.pooled, pos.pooled}) : pos.pooled;
    s.added.time_ids = s.guided ? stack_batch({ids.negative, ids.positive}) : ids.positive;
  }
  return s;
}

Denoiser make_denoiser(const models::UNet2DConditionModel& unet, const StageConditioning& c, double cfg_scale) {
  return [&unet, &c, cfg_scale](const Tensor& model_input, double t) {
    const Tensor x = model_input.nchw_to_nhwc();
    const Tensor batch = c.guided ? stack_batch({x, x}) : x;
    // diffusers hands the scheduler's timestep to the UNet, which embeds it as float32.
    const Tensor timestep = Tensor::full({1}, float(t));
    const Tensor out = unet.forward(batch, timestep, c.context, c.added);
    if (!c.guided) return out.nhwc_to_nchw();
    const Tensor uncond = out.narrow(0, 0, 1), cond = out.narrow(0, 1, 1);
    const float s = float(cfg_scale);
    return sampler_ops::map(uncond, cond, [s](float u, float v) { return u + s * (v - u); }).nhwc_to_nchw();
  };
}

NoiseScheduleConfig scheduler_config(const PipelineModels& m, const GenerationRequest& r) {
  NoiseScheduleConfig c = m.scheduler;
  if (r.prediction_type) c.prediction_type = *r.prediction_type;
  if (r.timestep_spacing) c.timestep_spacing = *r.timestep_spacing;
  return c;
}

Tensor run_stage(const PipelineModels& m, const GenerationRequest& r, const StageConditioning& c, Sampler& sampler,
                 Tensor latents, TorchGenerator& gen, TimestepWindow window, const std::string& stage,
                 const GenerationHooks& hooks) {
  int step = 0;
  return run_denoising_loop(sampler, std::move(latents), make_denoiser(*m.unet, c, r.cfg_scale), gen, window,
                            [&](int, double t, const Tensor& x) {
                              const float* p = x.data<float>();
                              for (int64_t i = 0; i < x.numel(); ++i)
                                DN_CHECK(std::isfinite(p[i]),
                                         "{}: latents became NaN/inf at step {} of {} (timestep {}); try a lower "
                                         "--cfg-scale or another sampler, or check the model weights",
                                         stage, step + 1, window.size(), t);
                              if (hooks.on_step) hooks.on_step(stage, step, window.size(), t, x);
                              ++step;
                            });
}

// img2img start: the VAE posterior sample of the image (diffusers' DiagonalGaussianDistribution
// .sample: mean + std * randn) times scaling_factor, in NCHW.
Tensor encode_init_image(const models::AutoencoderKL& vae, const Tensor& image_u8, TorchGenerator& gen) {
  const int64_t h = image_u8.size(0), w = image_u8.size(1);
  Tensor x = Tensor::empty({1, h, w, 3});
  const Tensor u8 = image_u8.contiguous();
  const uint8_t* src = u8.data<uint8_t>();
  float* dst = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) dst[i] = 2.0f * (float(src[i]) / 255.0f) - 1.0f;  // VaeImageProcessor
  const models::LatentDistribution d = vae.encode(x);
  const Tensor mean = d.mean.nhwc_to_nchw(), std = d.std.nhwc_to_nchw();
  const Tensor noise = gen.randn(mean.shape());
  const float sf = float(vae.config().scaling_factor);
  return sampler_ops::map(mean, std, noise, [sf](float m, float s, float n) { return sf * (m + s * n); });
}

}  // namespace

void check_image_size(int width, int height, int factor) {
  DN_CHECK(width > 0 && height > 0 && width % factor == 0 && height % factor == 0,
           "image size {}x{} is not a multiple of {} (the VAE's latent factor); use e.g. {}x{}", width, height, factor,
           std::max(factor, width / factor * factor), std::max(factor, height / factor * factor));
}

std::string resolve_sampler(const PipelineModels& m, const GenerationRequest& r) {
  std::string name = r.sampler.empty() ? m.default_sampler : r.sampler;
  if (name == "euler_a") name = "euler_ancestral";
  if (r.karras && name.find("karras") == std::string::npos) {
    DN_CHECK(name == "euler" || name == "dpmpp_2m",
             "the karras schedule is available for the samplers euler and dpmpp_2m, not '{}'", name);
    name += "_karras";
  }
  make_sampler(name, m.scheduler, 1);  // validates the name (the error lists the valid ones)
  return name;
}

GenerationResult generate(const PipelineModels& base, const PipelineModels* refiner, const GenerationRequest& r,
                          const GenerationHooks& hooks) {
  auto stage = [&](const char* s) {
    if (hooks.on_stage) hooks.on_stage(s);
  };
  GenerationResult res;
  const int f = base.vae_scale_factor();
  const bool img2img = r.init_image.defined() && r.init_image.numel() > 0;
  int height = r.height, width = r.width;
  if (img2img) {
    DN_CHECK(r.init_image.dim() == 3 && r.init_image.size(2) == 3 && r.init_image.dtype() == DType::U8,
             "init image must be 8-bit RGB [H, W, 3], got {}", r.init_image.describe());
    // diffusers' VaeImageProcessor: without a size, the image's own floored to the VAE factor.
    const int ih = int(r.init_image.size(0)), iw = int(r.init_image.size(1));
    if (height == 0) height = ih / f * f;
    if (width == 0) width = iw / f * f;
    DN_CHECK(height > 0 && width > 0, "the init image is {}x{}: give -W and -H (multiples of {}) to resize it to", iw,
             ih, f);
  }
  if (height == 0) height = base.default_size();
  if (width == 0) width = base.default_size();
  check_image_size(width, height, f);
  DN_CHECK(r.steps >= 1, "--steps must be at least 1, got {}", r.steps);
  DN_CHECK(base.kind != PipelineKind::SDXLRefiner || img2img,
           "the SDXL refiner refines an image: give -i INIT --strength X, or use it as --refiner after a base model");
  DN_CHECK(!refiner || refiner->kind != PipelineKind::SD, "--refiner must be an SDXL model (refiner or base)");
  DN_CHECK(!refiner || !img2img, "img2img (-i) together with --refiner is not supported; run them one after another");
  res.width = width, res.height = height;
  res.sampler = resolve_sampler(base, r);

  auto t0 = Clock::now();
  stage("text encoding");
  const StageConditioning cond = condition(base, r, height, width);
  std::optional<StageConditioning> refiner_cond;
  if (refiner) refiner_cond = condition(*refiner, r, height, width);
  res.timings.text_encoding = seconds_since(t0);

  t0 = Clock::now();
  stage("sampling");
  TorchGenerator gen(r.seed);
  const auto sampler = make_sampler(res.sampler, scheduler_config(base, r), r.steps);
  const Shape shape = {1, base.unet->config().in_channels, height / f, width / f};
  Tensor latents;
  TimestepWindow window = full_window(*sampler);
  if (img2img) {
    window = img2img_window(*sampler, r.strength);
    const bool same_size = r.init_image.size(0) == height && r.init_image.size(1) == width;
    const Tensor image = same_size ? r.init_image : resize_lanczos(r.init_image, width, height);
    const Tensor image_latents = encode_init_image(*base.vae, image, gen);
    latents = sampler->add_noise(image_latents, gen.randn(shape), window.begin);
  } else {
    latents = initial_latents(*sampler, shape, gen);
  }
  if (refiner) window = denoising_end_window(*sampler, r.refiner_start);
  if (hooks.on_initial_latents) hooks.on_initial_latents(latents);
  latents = run_stage(base, r, cond, *sampler, std::move(latents), gen, window, "base", hooks);

  if (refiner) {
    stage("refining");
    const auto ref_sampler = make_sampler(res.sampler, scheduler_config(*refiner, r), r.steps);
    TorchGenerator ref_gen(r.refiner_seed.value_or(0));
    TorchGenerator& g = r.refiner_seed ? ref_gen : gen;
    latents = run_stage(*refiner, r, *refiner_cond, *ref_sampler, std::move(latents), g,
                        denoising_start_window(*ref_sampler, r.refiner_start), "refiner", hooks);
  }
  res.timings.sampling = seconds_since(t0);

  t0 = Clock::now();
  stage("decoding");
  const models::AutoencoderKL& vae = refiner ? *refiner->vae : *base.vae;
  const float sf = float(vae.config().scaling_factor);
  res.latents = latents;
  const Tensor z = sampler_ops::map(latents, [sf](float x) { return x / sf; });
  const Tensor decoded = vae.decode(z.nchw_to_nhwc());
  res.decoded = decoded.nhwc_to_nchw();
  res.image = sampler_ops::map(decoded, [](float x) { return std::clamp(x / 2.0f + 0.5f, 0.0f, 1.0f); })
                  .reshape({height, width, 3});
  res.timings.decoding = seconds_since(t0);
  return res;
}

}  // namespace diffnorm
