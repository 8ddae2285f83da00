#include "pipeline/pipeline_models.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "io/json_file.h"
#include "models/load_with_loras.h"
#include "models/unet_ldm_layout.h"
#include "nn/component.h"
#include "nn/single_file_weights.h"

namespace diffnorm {

namespace fs = std::filesystem;

std::string_view to_string(PipelineKind kind) {
  switch (kind) {
    case PipelineKind::SD: return "SD";
    case PipelineKind::SDXLBase: return "SDXL base";
    case PipelineKind::SDXLRefiner: return "SDXL refiner";
  }
  return "?";
}

std::string sampler_for_scheduler_class(const std::string& cls, bool karras) {
  if (cls == "EulerDiscreteScheduler") return karras ? "euler_karras" : "euler";
  if (cls == "EulerAncestralDiscreteScheduler") return "euler_ancestral";
  if (cls == "DPMSolverMultistepScheduler") return karras ? "dpmpp_2m_karras" : "dpmpp_2m";
  if (cls == "DDIMScheduler") return "ddim";
  if (cls == "PNDMScheduler") return "pndm";
  if (cls == "HeunDiscreteScheduler") return "heun";
  if (cls == "LMSDiscreteScheduler") return "lms";
  fail("scheduler class '{}' has no sampler here (use --sampler: euler, euler_a, heun, lms, dpmpp_2m, ddim, pndm)",
       cls);
}

namespace {

nlohmann::json read_json(const fs::path& path) {
  DN_CHECK(fs::is_regular_file(path), "{} not found (is this a diffusers pipeline folder?)", path.string());
  return JsonConfig::load(path.string()).node();
}

// A component is present when model_index.json names a class for it ([null, null] = absent).
bool has_component(const nlohmann::json& index, const std::string& name) {
  return index.contains(name) && index[name].is_array() && index[name].size() == 2 && !index[name][1].is_null();
}

std::unique_ptr<TextEncoderSlot> load_text_encoder(const fs::path& dir, const std::string& encoder,
                                                   const std::string& tokenizer, const nn::LoraSet& loras) {
  auto slot = std::make_unique<TextEncoderSlot>(
      TextEncoderSlot{ClipTokenizer::from_directory(dir / tokenizer), nullptr});
  slot->model = std::make_unique<models::CLIPTextModel>(models::load_text_encoder((dir / encoder).string(), loras));
  return slot;
}

}  // namespace

std::vector<std::string> lora_components(PipelineKind kind) {
  switch (kind) {
    case PipelineKind::SD: return {"unet", "text_encoder"};
    case PipelineKind::SDXLBase: return {"unet", "text_encoder", "text_encoder_2"};
    case PipelineKind::SDXLRefiner: return {"unet", "text_encoder_2"};
  }
  return {};
}

PipelineModels load_diffusers_pipeline(const std::string& dir_in, const nn::LoraSet& loras) {
  const fs::path dir(dir_in);
  DN_CHECK(fs::is_directory(dir), "model {} does not exist (expected a diffusers pipeline folder)", dir_in);
  const nlohmann::json index = read_json(dir / "model_index.json");
  const std::string cls = index.value("_class_name", "");

  PipelineModels m;
  m.name = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
  if (cls == "StableDiffusionPipeline" || cls == "StableDiffusionImg2ImgPipeline") {
    m.kind = PipelineKind::SD;
  } else if (cls == "StableDiffusionXLPipeline" ||
             (cls == "StableDiffusionXLImg2ImgPipeline" && has_component(index, "text_encoder"))) {
    m.kind = PipelineKind::SDXLBase;
  } else if (cls == "StableDiffusionXLImg2ImgPipeline") {
    m.kind = PipelineKind::SDXLRefiner;
  } else {
    fail("{}: pipeline class '{}' is not supported (StableDiffusionPipeline, StableDiffusionXLPipeline, "
         "StableDiffusionXLImg2ImgPipeline)",
         (dir / "model_index.json").string(), cls);
  }
  m.force_zeros_for_empty_prompt = index.value("force_zeros_for_empty_prompt", m.kind == PipelineKind::SDXLBase);
  loras.check_components(lora_components(m.kind), true);

  if (m.kind != PipelineKind::SDXLRefiner)
    m.text_encoder = load_text_encoder(dir, "text_encoder", "tokenizer", loras);
  if (m.kind != PipelineKind::SD) m.text_encoder_2 = load_text_encoder(dir, "text_encoder_2", "tokenizer_2", loras);
  m.unet = std::make_unique<models::UNet2DConditionModel>(models::load_unet((dir / "unet").string(), loras));
  m.vae = std::make_unique<models::AutoencoderKL>(models::AutoencoderKL::load((dir / "vae").string()));

  const nlohmann::json sched = read_json(dir / "scheduler" / "scheduler_config.json");
  m.scheduler = NoiseScheduleConfig::from_json(sched);
  m.default_sampler = sampler_for_scheduler_class(sched.value("_class_name", ""), m.scheduler.use_karras_sigmas);
  m.hash_file = nn::component_weights_path((dir / "unet").string());
  return m;
}

ModelFamily parse_checkpoint_family(std::string_view name) {
  if (name == "sd1") return ModelFamily::SD1Checkpoint;
  if (name == "sd2") return ModelFamily::SD2Checkpoint;
  if (name == "sdxl-base" || name == "sdxl") return ModelFamily::SDXLBaseCheckpoint;
  if (name == "sdxl-refiner") return ModelFamily::SDXLRefinerCheckpoint;
  fail("unknown model family '{}' (valid: sd1, sd2, sdxl-base, sdxl-refiner)", name);
}

PipelineModels load_single_file_pipeline(const std::string& path, const SingleFileChoice& choice,
                                         const nn::LoraSet& loras) {
  nn::SingleFileOptions options;
  options.config_dir = choice.config_dir;
  options.family = choice.family;
  const nn::SingleFileCheckpoint ckpt = nn::SingleFileCheckpoint::open(path, options);
  PipelineModels m;
  m.name = fs::path(path).stem().string();
  m.hash_file = path;
  switch (ckpt.family()) {
    case ModelFamily::SD1Checkpoint:
    case ModelFamily::SD2Checkpoint: m.kind = PipelineKind::SD; break;
    case ModelFamily::SDXLBaseCheckpoint: m.kind = PipelineKind::SDXLBase; break;
    case ModelFamily::SDXLRefinerCheckpoint: m.kind = PipelineKind::SDXLRefiner; break;
    default: fail("{}: not a full SD/SDXL checkpoint (needs UNet, VAE and text encoder)", path);
  }
  m.force_zeros_for_empty_prompt = m.kind == PipelineKind::SDXLBase;
  loras.check_components(lora_components(m.kind), true);
  // The model constructors check that every tensor and every LoRA patch was used.
  // Tokenizer: the config folder's own (tokenizer/, tokenizer_2/) when it has one, else the
  // built-in CLIP vocabulary with the encoder's padding.
  auto text = [&](const std::string& component, std::string_view pad) {
    auto w = ckpt.weights(component);
    const std::string suffix = component == "text_encoder_2" ? "_2" : "";
    const fs::path own = fs::path(choice.config_dir) / ("tokenizer" + suffix);
    const bool has_own = !choice.config_dir.empty() && fs::is_regular_file(own / "vocab.json");
    auto slot = std::make_unique<TextEncoderSlot>(
        TextEncoderSlot{has_own ? ClipTokenizer::from_directory(own) : ClipTokenizer(pad), nullptr});
    slot->model = std::make_unique<models::CLIPTextModel>(*loras.wrap(*w, component),
                                                          models::CLIPTextConfig::from(ckpt.config(component)));
    return slot;
  };
  // OpenCLIP encoders (SD2's text_encoder, SDXL's text_encoder_2) pad with "!" (id 0).
  if (m.kind != PipelineKind::SDXLRefiner)
    m.text_encoder = text("text_encoder", ckpt.family() == ModelFamily::SD2Checkpoint ? "!" : "<|endoftext|>");
  if (m.kind != PipelineKind::SD) m.text_encoder_2 = text("text_encoder_2", "!");
  {
    auto w = ckpt.weights("unet");
    const auto config = models::UNet2DConditionConfig::from(ckpt.config("unet"));
    const weights::LdmUNetLayout layout = models::ldm_unet_layout(config);
    m.unet = std::make_unique<models::UNet2DConditionModel>(*loras.wrap(*w, "unet", &layout), config);
  }
  {
    auto w = ckpt.weights("vae");
    m.vae = std::make_unique<models::AutoencoderKL>(*w, models::AutoencoderKLConfig::from(ckpt.config("vae")));
    w->check_all_used();
  }
  m.default_sampler = "euler";
  const fs::path scheduler = fs::path(choice.config_dir) / "scheduler" / "scheduler_config.json";
  if (!choice.config_dir.empty() && fs::is_regular_file(scheduler)) {
    const nlohmann::json sched = read_json(scheduler);
    m.scheduler = NoiseScheduleConfig::from_json(sched);
    m.default_sampler = sampler_for_scheduler_class(sched.value("_class_name", ""), m.scheduler.use_karras_sigmas);
  }
  return m;
}

PipelineModels load_pipeline(const std::string& path, const SingleFileChoice& choice, const nn::LoraSet& loras) {
  DN_CHECK(fs::exists(path), "model {} not found (expected a diffusers folder or a .safetensors checkpoint)", path);
  if (!fs::is_directory(path)) return load_single_file_pipeline(path, choice, loras);
  DN_CHECK(choice.config_dir.empty() && !choice.family,
           "{} is a diffusers folder: its own configs decide (a config folder and a family apply to single files)",
           path);
  return load_diffusers_pipeline(path, loras);
}

}  // namespace diffnorm
