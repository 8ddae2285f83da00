// LoraWeights: a WeightSource over another one that merges LoRA patches into the weights
// as the model asks for them (merge at load time: the network then runs at its usual cost).
//
// When a module asks for "<module>.weight", every patch naming that module is applied:
//   W' = W + Σ weight · ΔW          (ΔW with the format's scale: weights/lora_delta.h)
// summed in float64 and rounded to float32 once. A patch names its module either by the
// dotted path (diffusers / PEFT files) or flattened with '.' -> '_' (kohya files); the
// flattened names are looked up from the paths the model itself asks for, never parsed.
// For a UNet, the original LDM/SGM path of each module (input_blocks.4.1..., derived from
// the model's config) is looked up too, which is how SDXL kohya files name UNet modules.
//
// check_all_used() (which every model constructor calls) also fails, naming each one, when
// a patch matched no module of the model; a factor shape that does not fit the module is
// an Error when the weight is loaded.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nn/weight_source.h"
#include "weights/key_map.h"
#include "weights/lora_file.h"
#include "weights/unet_key_map.h"

namespace diffnorm::nn {

struct WeightedLoraPatch {
  const weights::LoraPatch* patch = nullptr;
  double weight = 1.0;  // the user's weight of the patch's file
  std::string file;     // for messages
};

class LoraWeights : public WeightSource {
 public:
  /// `base` must outlive this source, the patches' files too. `original_layout`: the UNet's
  /// LDM/SGM block structure, so that patches named in that layout match (nullptr: none).
  LoraWeights(WeightSource& base, std::vector<WeightedLoraPatch> patches,
              const weights::LdmUNetLayout* original_layout = nullptr);

  std::string origin() const override { return base_.origin(); }
  /// The base's unused-key check, then check_all_patches_applied().
  void check_all_used() const override;
  /// An Error listing every patch that has matched no module so far.
  void check_all_patches_applied() const;
  /// Whether some patch targets the parameter `key` ("<module>.weight").
  bool is_patched(const std::string& key) const;

 protected:
  std::optional<Shape> shape_of(const std::string& key, const Shape& requested) const override {
    return inner_shape_of(base_, key, requested);
  }
  Tensor load(const std::string& key, const Shape& shape) override;
  std::vector<std::string> keys() const override { return inner_keys(base_); }

 private:
  /// Indices of the patches that target `module` (a dotted diffusers module path).
  std::vector<std::size_t> patches_of(const std::string& module) const;

  WeightSource& base_;
  std::vector<WeightedLoraPatch> patches_;
  std::vector<bool> applied_;
  std::multimap<std::string, std::size_t> by_path_, by_flat_name_;
  std::optional<weights::KeyMap> original_names_;  // diffusers <-> LDM/SGM UNet paths
};

}  // namespace diffnorm::nn
