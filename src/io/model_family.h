// Which kind of model a safetensors file holds, guessed from its tensor names (and a few
// shapes): single-file SD1.x / SD2.x / SDXL base / SDXL refiner checkpoints (LDM/SGM
// layout), diffusers components (UNet, VAE, CLIP text encoders) and adapter files
// (kohya / PEFT / diffusers LoRA, LyCORIS LoHa / LoKr). Key layouts:
// ../shared/reference/diffusion-engines.md, section (f).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "diffnorm/safetensors.h"

namespace diffnorm {

enum class ModelFamily {
  Unknown,
  SD1Checkpoint,          // model.diffusion_model.* + cond_stage_model.transformer.* (CLIP-L)
  SD2Checkpoint,          // model.diffusion_model.* + cond_stage_model.model.* (OpenCLIP ViT-H)
  SDXLBaseCheckpoint,     // conditioner.embedders.0 (CLIP-L) + conditioner.embedders.1.model (bigG)
  SDXLRefinerCheckpoint,  // conditioner.embedders.0.model.* only (bigG)
  LdmUNet,                // model.diffusion_model.* without a text encoder
  LdmVAE,                 // encoder.down.N.block.* (original VAE layout)
  DiffusersUNetSD1,       // conv 1x1 proj_in, no added conditioning
  DiffusersUNetSD2,       // linear proj_in (use_linear_projection), no added conditioning
  DiffusersUNetSDXL,      // add_embedding.* (text_time micro-conditioning)
  DiffusersVAE,           // encoder.down_blocks.* + decoder.up_blocks.*
  ClipTextModel,          // text_model.* without projection (CLIP ViT-L, SD1 / SDXL text_encoder)
  ClipTextModelWithProjection,  // text_model.* + text_projection (SDXL text_encoder_2)
  LoraKohya,              // lora_unet_* / lora_te*_ with .lora_down / .lora_up
  LoraPeft,               // *.lora_A.weight / *.lora_B.weight
  LoraDiffusers,          // *.lora.down.weight / *.lora_linear_layer.down.weight
  LycorisLoHa,            // *.hada_w1_a ...
  LycorisLoKr,            // *.lokr_w1 ...
};

struct FamilyGuess {
  ModelFamily family = ModelFamily::Unknown;
  std::string description;  // human-readable, e.g. "SDXL base single-file checkpoint (SGM layout)"
  std::string evidence;     // the key or shape that decided it
};

/// Short stable identifier, e.g. "sdxl-base-checkpoint", "lora-kohya".
std::string_view family_id(ModelFamily family);

FamilyGuess guess_model_family(const std::vector<TensorInfo>& tensors);

}  // namespace diffnorm
