// One image generation, as diffusers 0.23.1's StableDiffusion(XL)(Img2Img)Pipeline computes
// it on CPU in float32 (same seed -> same latents and image):
//   1. text conditioning (text_conditioning.h) of the prompt and the negative prompt; with
//      CFG (scale > 1) the UNet runs on the batch [negative, positive]
//   2. latents: txt2img randn · init_noise_sigma; img2img: VAE posterior sample of the init
//      image (mean + std · randn) · scaling_factor, noised to the first timestep of the
//      strength window by a second randn. An init image of another size than the one asked
//      is resized with Pillow's Lanczos (io/image_resize.h), as diffusers and A1111 do; no
//      size asked: the image's own, floored to a multiple of 8 (diffusers)
//   3. the sampler loop; each step out = uncond + scale · (cond - uncond)
//   4. optionally the SDXL refiner: the base stops at denoising_end = refiner_start, the
//      refiner continues the same latents from denoising_start (no new noise)
//   5. VAE decode of latents / scaling_factor; image = clamp(x / 2 + 0.5, 0, 1)
// Generator draws, in order, all from one torch-exact generator seeded with `seed`.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "pipeline/pipeline_models.h"
#include "pipeline/sdxl_micro_conditioning.h"
#include "pipeline/text_conditioning.h"

namespace diffnorm {

struct GenerationRequest {
  std::string prompt;
  std::optional<std::string> prompt_2;         // SDXL bigG prompt (default: prompt)
  std::optional<std::string> negative_prompt;  // nullopt = none given (SDXL base: zeros)
  int steps = 20;
  double cfg_scale = 7.5;                      // <= 1: no classifier-free guidance
  std::string sampler;                         // make_sampler name; "" = the model folder's scheduler
  bool karras = false;                         // Karras sigmas (euler, dpmpp_2m)
  std::optional<PredictionType> prediction_type;     // overrides the scheduler config
  std::optional<TimestepSpacing> timestep_spacing;   // overrides the scheduler config
  uint64_t seed = 0;
  int width = 0, height = 0;                   // 0: the model's default size
  TextEncodeOptions text;
  SdxlMicroConditioning micro;
  Tensor init_image;                           // U8 [H, W, 3]: img2img when defined (any size)
  double strength = 0.75;                      // img2img
  double refiner_start = 0.8;                  // fraction of the schedule the base runs
  std::optional<uint64_t> refiner_seed;        // refiner generator; default: continue the base's
};

struct GenerationHooks {
  /// Before a stage of work: "text encoding", "sampling", "refining", "decoding".
  std::function<void(const std::string& stage)> on_stage;
  /// The latents entering the first step of the base stage (NCHW).
  std::function<void(const Tensor& latents)> on_initial_latents;
  /// After each sampler step of stage "base" / "refiner": step index within the stage, the
  /// number of steps, the step's timestep and the new latents (NCHW).
  std::function<void(const std::string& stage, int step, int steps, double timestep, const Tensor& latents)> on_step;
};

struct GenerationTimings {
  double text_encoding = 0, sampling = 0, decoding = 0;  // seconds
};

struct GenerationResult {
  Tensor latents;   // final latents NCHW [1, 4, h, w] (scaled, before decoding)
  Tensor decoded;   // VAE output NCHW [1, 3, H, W], not clamped
  Tensor image;     // [H, W, 3] float in [0, 1]
  std::string sampler;  // the make_sampler name that ran
  int width = 0, height = 0;
  GenerationTimings timings;
};

/// Runs a generation on `base` (and `refiner` when given). Errors for sizes that are not a
/// multiple of the VAE factor (8), NaN latents (naming the step), a refiner used as the main
/// model without an init image.
GenerationResult generate(const PipelineModels& base, const PipelineModels* refiner, const GenerationRequest& request,
                          const GenerationHooks& hooks = {});

/// Error unless width and height are positive multiples of `factor` (the VAE's 8), with a
/// suggestion of the nearest smaller size.
void check_image_size(int width, int height, int factor);

/// The make_sampler name a request runs on `models` (request's sampler or the folder's,
/// with Karras applied); Error when Karras is asked of a sampler without it.
std::string resolve_sampler(const PipelineModels& models, const GenerationRequest& request);

}  // namespace diffnorm
