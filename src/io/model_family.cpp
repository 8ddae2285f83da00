#include "io/model_family.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

namespace diffnorm {

std::string_view family_id(ModelFamily family) {
  switch (family) {
    case ModelFamily::Unknown: return "unknown";
    case ModelFamily::SD1Checkpoint: return "sd1-checkpoint";
    case ModelFamily::SD2Checkpoint: return "sd2-checkpoint";
    case ModelFamily::SDXLBaseCheckpoint: return "sdxl-base-checkpoint";
    case ModelFamily::SDXLRefinerCheckpoint: return "sdxl-refiner-checkpoint";
    case ModelFamily::LdmUNet: return "ldm-unet";
    case ModelFamily::LdmVAE: return "ldm-vae";
    case ModelFamily::DiffusersUNetSD1: return "diffusers-unet-sd1";
    case ModelFamily::DiffusersUNetSD2: return "diffusers-unet-sd2";
    case ModelFamily::DiffusersUNetSDXL: return "diffusers-unet-sdxl";
    case ModelFamily::DiffusersVAE: return "diffusers-vae";
    case ModelFamily::ClipTextModel: return "clip-text";
    case ModelFamily::ClipTextModelWithProjection: return "clip-text-projection";
    case ModelFamily::LoraKohya: return "lora-kohya";
    case ModelFamily::LoraPeft: return "lora-peft";
    case ModelFamily::LoraDiffusers: return "lora-diffusers";
    case ModelFamily::LycorisLoHa: return "lycoris-loha";
    case ModelFamily::LycorisLoKr: return "lycoris-lokr";
  }
  return "unknown";
}

namespace {

class KeySet {
 public:
  explicit KeySet(const std::vector<TensorInfo>& tensors) : tensors_(tensors) {}

  // The first tensor whose name satisfies pred.
  template <class Pred>
  const TensorInfo* first(Pred pred) const {
    const auto it = std::find_if(tensors_.begin(), tensors_.end(), [&](const TensorInfo& t) { return pred(t.name); });
    return it == tensors_.end() ? nullptr : &*it;
  }
  const TensorInfo* with_prefix(std::string_view prefix) const {
    return first([&](std::string_view n) { return n.starts_with(prefix); });
  }
  const TensorInfo* containing(std::string_view part) const {
    return first([&](std::string_view n) { return n.find(part) != std::string_view::npos; });
  }
  const TensorInfo* with_suffix(std::string_view suffix) const {
    return first([&](std::string_view n) { return n.ends_with(suffix); });
  }
  const TensorInfo* exact(std::string_view name) const {
    return first([&](std::string_view n) { return n == name; });
  }

 private:
  const std::vector<TensorInfo>& tensors_;
};

// For kohya-style adapter keys: SDXL files name the text encoders te1/te2 and the UNet
// blocks in the SGM layout; SD1/SD2 files use lora_te_ and diffusers block names.
std::string adapter_target(const KeySet& keys) {
  if (keys.with_prefix("lora_te1_") || keys.with_prefix("lora_te2_") || keys.with_prefix("lora_unet_input_blocks_") ||
      keys.with_prefix("lora_unet_output_blocks_") || keys.with_prefix("lora_unet_middle_block_"))
    return "SDXL";
  if (keys.with_prefix("lora_te_") || keys.with_prefix("lora_unet_down_blocks_") ||
      keys.with_prefix("lora_unet_up_blocks_") || keys.with_prefix("lora_unet_mid_block_"))
    return "SD1.x/SD2.x";
  return "an unknown base";
}

// Rank of a low-rank factor: the first dimension of a down / A tensor.
std::string rank_note(const TensorInfo* down) {
  return down && !down->shape.empty() ? fmt::format(", rank {}", down->shape[0]) : "";
}

std::optional<FamilyGuess> guess_adapter(const KeySet& keys) {
  if (const TensorInfo* t = keys.containing(".hada_w1_a")) {
    return FamilyGuess{ModelFamily::LycorisLoHa, "LyCORIS LoHa for " + adapter_target(keys), t->name};
  }
  if (const TensorInfo* t = keys.containing(".lokr_w1")) {
    return FamilyGuess{ModelFamily::LycorisLoKr, "LyCORIS LoKr for " + adapter_target(keys), t->name};
  }
  if (const TensorInfo* t = keys.containing(".lora_down.weight");
      t && (t->name.starts_with("lora_unet_") || t->name.starts_with("lora_te"))) {
    return FamilyGuess{ModelFamily::LoraKohya, "kohya LoRA for " + adapter_target(keys) + rank_note(t), t->name};
  }
  if (const TensorInfo* t = keys.containing(".lora_A.")) {
    return FamilyGuess{ModelFamily::LoraPeft, "PEFT LoRA (lora_A / lora_B)" + rank_note(t), t->name};
  }
  if (const TensorInfo* t = keys.first([](std::string_view n) {
        return n.find(".lora.down.") != std::string_view::npos ||
               n.find(".lora_linear_layer.down.") != std::string_view::npos;
      })) {
    return FamilyGuess{ModelFamily::LoraDiffusers, "diffusers LoRA (lora.down / lora.up)" + rank_note(t), t->name};
  }
  return std::nullopt;
}

std::optional<FamilyGuess> guess_single_file(const KeySet& keys) {
  if (const TensorInfo* t = keys.with_prefix("conditioner.embedders.1.model.")) {
    return FamilyGuess{ModelFamily::SDXLBaseCheckpoint,
                       "SDXL base single-file checkpoint (SGM layout; CLIP-L + OpenCLIP bigG)", t->name};
  }
  if (const TensorInfo* t = keys.with_prefix("conditioner.embedders.0.model.")) {
    return FamilyGuess{ModelFamily::SDXLRefinerCheckpoint,
                       "SDXL refiner single-file checkpoint (SGM layout; OpenCLIP bigG only)", t->name};
  }
  if (const TensorInfo* t = keys.with_prefix("cond_stage_model.model.")) {
    return FamilyGuess{ModelFamily::SD2Checkpoint, "SD2.x single-file checkpoint (LDM layout; OpenCLIP ViT-H)",
                       t->name};
  }
  if (const TensorInfo* t = keys.with_prefix("cond_stage_model.transformer.")) {
    return FamilyGuess{ModelFamily::SD1Checkpoint, "SD1.x single-file checkpoint (LDM layout; CLIP ViT-L)", t->name};
  }
  if (const TensorInfo* t = keys.with_prefix("model.diffusion_model.")) {
    return FamilyGuess{ModelFamily::LdmUNet, "UNet in the LDM layout without a text encoder", t->name};
  }
  if (const TensorInfo* t = keys.with_prefix("encoder.down.0.block.")) {
    return FamilyGuess{ModelFamily::LdmVAE, "VAE in the LDM layout", t->name};
  }
  return std::nullopt;
}

std::optional<FamilyGuess> guess_diffusers_component(const KeySet& keys) {
  if (keys.exact("conv_in.weight") && keys.exact("time_embedding.linear_1.weight")) {
    const TensorInfo* to_k = keys.with_suffix("attn2.to_k.weight");
    const std::string context =
        to_k && to_k->shape.size() == 2 ? fmt::format(", cross-attention dim {}", to_k->shape[1]) : "";
    if (const TensorInfo* t = keys.exact("add_embedding.linear_1.weight")) {
      return FamilyGuess{ModelFamily::DiffusersUNetSDXL,
                         "diffusers UNet, SDXL family (text_time added conditioning)" + context, t->name};
    }
    const TensorInfo* proj_in = keys.with_suffix(".proj_in.weight");
    if (proj_in && proj_in->shape.size() == 2) {
      return FamilyGuess{ModelFamily::DiffusersUNetSD2, "diffusers UNet, SD2.x style (linear proj_in)" + context,
                         proj_in->name + " is 2-d"};
    }
    return FamilyGuess{ModelFamily::DiffusersUNetSD1, "diffusers UNet, SD1.x style (1x1 conv proj_in)" + context,
                       proj_in ? proj_in->name + " is 4-d" : "time_embedding.linear_1.weight"};
  }
  if (keys.with_prefix("encoder.down_blocks.") && keys.with_prefix("decoder.up_blocks.")) {
    const TensorInfo* t = keys.with_prefix("decoder.up_blocks.");
    return FamilyGuess{ModelFamily::DiffusersVAE, "diffusers VAE (AutoencoderKL)", t->name};
  }
  if (keys.with_prefix("text_model.encoder.layers.")) {
    const TensorInfo* embedding = keys.exact("text_model.embeddings.token_embedding.weight");
    int layers = 0;
    for (int i = 0; keys.with_prefix(fmt::format("text_model.encoder.layers.{}.", i)); ++i) layers = i + 1;
    const std::string size = fmt::format(
        ", {} layers, hidden {}", layers,
        embedding && embedding->shape.size() == 2 ? std::to_string(embedding->shape[1]) : std::string("?"));
    if (const TensorInfo* t = keys.exact("text_projection.weight")) {
      return FamilyGuess{ModelFamily::ClipTextModelWithProjection,
                         "CLIP text encoder with projection (SDXL text_encoder_2, OpenCLIP bigG)" + size, t->name};
    }
    return FamilyGuess{ModelFamily::ClipTextModel, "CLIP text encoder (CLIP ViT-L style)" + size,
                       "text_model.encoder.layers.0 without text_projection"};
  }
  return std::nullopt;
}

}  // namespace

FamilyGuess guess_model_family(const std::vector<TensorInfo>& tensors) {
  const KeySet keys(tensors);
  if (auto guess = guess_adapter(keys)) return *guess;
  if (auto guess = guess_single_file(keys)) return *guess;
  if (auto guess = guess_diffusers_component(keys)) return *guess;
  return FamilyGuess{ModelFamily::Unknown, "not a recognised model layout", ""};
}

}  // namespace diffnorm
