// PipelineModels: everything one Stable Diffusion pipeline needs to generate, loaded from a
// diffusers folder (model_index.json + component folders) or built in code (default_model.h).
//   kind SD           SD 1.x / 2.x: text_encoder (+ tokenizer), unet, vae
//   kind SDXLBase     text_encoder + text_encoder_2 (with projection), unet with text_time
//   kind SDXLRefiner  text_encoder_2 only, unet with 5 time ids (aesthetic score)
// The folder's scheduler config and class give the default sampler, so that a generation
// with the same seed reproduces diffusers' own call of that folder.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "io/model_family.h"
#include "models/unet_2d_condition_model.h"
#include "nn/lora_set.h"
#include "pipeline/clip_tokenizer.h"
#include "pipeline/noise_schedule.h"

namespace diffnorm {

enum class PipelineKind { SD, SDXLBase, SDXLRefiner };
std::string_view to_string(PipelineKind kind);

struct TextEncoderSlot {
  ClipTokenizer tokenizer;
  std::unique_ptr<models::CLIPTextModel> model;
};

struct PipelineModels {
  PipelineKind kind = PipelineKind::SD;
  std::string name;        // shown in the PNG parameters ("Model: ...")
  std::string hash_file;   // the file whose A1111 short hash is the "Model hash" (empty: none)
  std::unique_ptr<TextEncoderSlot> text_encoder;    // CLIP-L (SD: the only one; absent on the refiner)
  std::unique_ptr<TextEncoderSlot> text_encoder_2;  // OpenCLIP bigG with projection (SDXL)
  std::unique_ptr<models::UNet2DConditionModel> unet;
  std::unique_ptr<models::AutoencoderKL> vae;
  NoiseScheduleConfig scheduler;
  std::string default_sampler;              // make_sampler name of the folder's scheduler class
  bool force_zeros_for_empty_prompt = false;  // SDXL base: no negative prompt -> zero embeddings

  /// Latent pixels per side: 2^(VAE levels - 1).
  int vae_scale_factor() const { return 1 << (vae->config().levels() - 1); }
  /// diffusers' default image size: unet sample_size * vae_scale_factor.
  int default_size() const { return int(unet->config().sample_size) * vae_scale_factor(); }
};

/// The make_sampler name of a diffusers scheduler class ("PNDMScheduler" -> "pndm"); Error
/// for classes without a sampler here.
std::string sampler_for_scheduler_class(const std::string& class_name, bool karras);

/// Loads a diffusers pipeline folder, with `loras` merged into the UNet and text encoders
/// (every patch must fit a network of the pipeline, see nn/lora_set.h). Errors name the
/// missing file or the unsupported pipeline class.
PipelineModels load_diffusers_pipeline(const std::string& dir, const nn::LoraSet& loras = nn::LoraSet());

/// How to read a single-file checkpoint, which carries no configs of its own.
struct SingleFileChoice {
  /// A diffusers folder describing the file: its <component>/config.json replace the configs
  /// derived from the tensors (models of other proportions than the published ones), its
  /// tokenizer folders, when present, the built-in vocabulary, and its
  /// scheduler/scheduler_config.json, when present, the SD defaults (so that e.g. the
  /// folder of stabilityai/stable-diffusion-2-1 makes its 768-v single file v-prediction).
  /// Empty: derived configs and the SD defaults.
  std::string config_dir;
  /// Overrides the family detected from the key names.
  std::optional<ModelFamily> family;
};

/// The single-file family named by `--family`: sd1, sd2, sdxl-base (or sdxl), sdxl-refiner.
/// Error listing those for any other name.
ModelFamily parse_checkpoint_family(std::string_view name);

/// Loads a single-file checkpoint (SD1.x/2.x LDM, SDXL base/refiner SGM; nn/single_file_weights.h).
/// Without a scheduler config (see SingleFileChoice) the SD defaults (scaled_linear, leading,
/// epsilon) and Euler are used: the SD2.x 768-v models cannot be told from the 512 epsilon
/// ones by their keys, so their v-prediction must come from the caller (request's
/// prediction_type) or from config_dir. `loras` as for load_diffusers_pipeline.
PipelineModels load_single_file_pipeline(const std::string& path, const SingleFileChoice& choice = {},
                                         const nn::LoraSet& loras = nn::LoraSet());

/// A folder (diffusers) or a .safetensors file (single file, read as `choice` says; a
/// choice given with a folder is an Error, since the folder's own configs decide).
PipelineModels load_pipeline(const std::string& path, const SingleFileChoice& choice = {},
                             const nn::LoraSet& loras = nn::LoraSet());

/// The networks of a pipeline kind that LoRAs can adapt ("unet", "text_encoder", ...).
std::vector<std::string> lora_components(PipelineKind kind);

}  // namespace diffnorm
