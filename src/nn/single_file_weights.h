// Single-file checkpoints (CompVis LDM for SD1.x/2.x, Stability SGM for SDXL base/refiner,
// a VAE alone in the LDM layout) opened as if they were diffusers folders: one
// WeightSource and one config per component ("unet", "vae", "text_encoder",
// "text_encoder_2"), answering diffusers keys from the original tensors.
//
// The family is detected from the key names (io/model_family) unless the caller names it.
// Every tensor of the file is mapped when the checkpoint is opened: a tensor under no
// component's prefix, or one no rule maps, is an Error naming it (known non-weights such
// as the DDPM schedule buffers and EMA copies are skipped). Key maps: src/weights/*_key_map.h.
//
// Configs: a single file has no config.json. By default each component's config is derived
// (weights/derived_config.h: the structure from the tensor shapes, the rest from the
// family's preset), which describes the real SD1.5 / SD2.1 / SDXL models. A model of other
// proportions (fine-tunes with changed norms, the tiny test pipelines) is opened with
// `config_dir`: a diffusers folder whose <component>/config.json are used instead.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diffnorm/safetensors.h"
#include "io/model_family.h"
#include "nn/config_reader.h"
#include "nn/weight_source.h"
#include "weights/checkpoint_layout.h"

namespace diffnorm::nn {

/// One component of a single file, by diffusers key. f16/bf16 tensors convert to f32 as in
/// any WeightSource; reshapes (VAE attention 1x1 convs, OpenCLIP q|k|v thirds, the
/// transposed text_projection) are views of the mapped file where possible.
class SingleFileWeights : public WeightSource {
 public:
  SingleFileWeights(std::shared_ptr<const SafeTensorsFile> file, std::shared_ptr<const weights::ComponentKeys> keys);
  std::string origin() const override;

 protected:
  /// Throws (naming the diffusers key and the original key it would come from) when absent.
  std::optional<Shape> shape_of(const std::string& key, const Shape& requested) const override;
  Tensor load(const std::string& key, const Shape& shape) override;
  std::vector<std::string> keys() const override;

 private:
  std::shared_ptr<const SafeTensorsFile> file_;
  std::shared_ptr<const weights::ComponentKeys> keys_;
};

struct SingleFileOptions {
  std::optional<ModelFamily> family;  // overrides the detection
  std::string config_dir;             // diffusers folder with <component>/config.json; empty: derived configs
};

class SingleFileCheckpoint {
 public:
  static SingleFileCheckpoint open(const std::string& path, const SingleFileOptions& options = {});

  ModelFamily family() const { return spec_->family; }
  const std::string& path() const { return file_->path(); }
  /// The components the file holds, in the family's order ("unet", "vae", ...).
  std::vector<std::string> components() const;
  bool has(const std::string& component) const { return find(component) != nullptr; }
  /// A fresh WeightSource over one component (its own record of used keys).
  std::unique_ptr<SingleFileWeights> weights(const std::string& component) const;
  /// The component's config: from config_dir when given, else derived.
  ConfigReader config(const std::string& component) const;

 private:
  const weights::ComponentKeys* find(const std::string& component) const;

  std::shared_ptr<const SafeTensorsFile> file_;
  const weights::CheckpointSpec* spec_ = nullptr;
  std::shared_ptr<const std::vector<weights::ComponentKeys>> components_;
  std::string config_dir_;
};

}  // namespace diffnorm::nn
