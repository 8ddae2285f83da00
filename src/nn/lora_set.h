// LoraSet: the LoRA files applied to one model, each with the user's weight, and the
// WeightSources that merge them into each component (nn/lora_weights.h).
//
// A file's patches name their component (unet, text_encoder, text_encoder_2); the same
// weight applies to all of them, as in A1111 and diffusers' pipelines. Several files add up:
// W' = W + Σ_files weight_f · Σ_patches ΔW.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/config_reader.h"
#include "nn/lora_weights.h"
#include "weights/lora_file.h"

namespace diffnorm::nn {

struct LoraChoice {
  std::string path;
  double weight = 1.0;
};

/// "FILE:WEIGHT" or "FILE" (weight 1). Error naming the argument when WEIGHT is not a
/// finite number or FILE is empty.
LoraChoice parse_lora_choice(const std::string& argument);

/// The component a diffusers folder's LoRA patches are named after: "unet" for a
/// UNet2DConditionModel, "text_encoder_2" for a folder of that name or a
/// CLIPTextModelWithProjection, else "text_encoder"; Error naming the config for other classes.
std::string lora_component_of(const std::string& dir, const ConfigReader& config);

class LoraSet {
 public:
  struct Entry {
    weights::LoraFile file;
    double weight = 1.0;
  };

  LoraSet() = default;
  /// Reads every file (weights/lora_file.h errors name the file and key).
  static LoraSet load(const std::vector<LoraChoice>& choices);

  bool empty() const { return entries_.empty(); }
  const std::vector<Entry>& entries() const { return entries_; }

  /// Error naming the file when one of them has no patch for any of `components` (it would
  /// change nothing); with `every_patch`, also naming each patch whose component is not
  /// among them (e.g. text-encoder patches on a model without that encoder).
  void check_components(const std::vector<std::string>& components, bool every_patch) const;

  /// `base` seen with every patch for `component` merged (base must outlive the result).
  /// `original_layout`: a UNet's LDM/SGM structure, for SDXL kohya names (nullptr: none).
  std::unique_ptr<LoraWeights> wrap(WeightSource& base, const std::string& component,
                                    const weights::LdmUNetLayout* original_layout = nullptr) const;

 private:
  std::vector<Entry> entries_;
};

}  // namespace diffnorm::nn
