#include "pipeline/lora_merge.h"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/check.h"
#include "diffnorm/safetensors.h"
#include "io/model_family.h"
#include "models/unet_ldm_layout.h"
#include "nn/component.h"
#include "nn/single_file_weights.h"
#include "weights/checkpoint_layout.h"

namespace diffnorm {

namespace {

namespace fs = std::filesystem;

// A merged diffusers tensor and how it sits in the stored tensor it came from.
struct Patched {
  weights::Transform transform;
  Tensor merged;
};
using PatchedTensors = std::multimap<std::string, Patched>;  // by stored tensor name

// Writes the merged values into `stored` (float32), inverting the key map's transform.
void write_back(const Patched& p, Tensor& stored) {
  using weights::Transform;
  switch (p.transform) {
    case Transform::Copy:
    case Transform::Conv1x1ToLinear: stored.copy_from(p.merged.reshape(stored.shape())); break;
    case Transform::Transpose: stored.copy_from(p.merged.permute({1, 0})); break;
    case Transform::QkvQ:
    case Transform::QkvK:
    case Transform::QkvV: {
      const int64_t n = stored.size(0) / 3;
      const int64_t part = p.transform == Transform::QkvQ ? 0 : p.transform == Transform::QkvK ? 1 : 2;
      Tensor rows = stored.narrow(0, part * n, n);
      rows.copy_from(p.merged);
      break;
    }
  }
}

// Every patched tensor of one component: `keys` maps its diffusers names to stored tensors.
void merge_component(nn::WeightSource& source, const std::string& component, const nn::LoraSet& loras,
                     const weights::LdmUNetLayout* layout, const std::map<std::string, weights::MappedKey>& keys,
                     const SafeTensorsFile& file, PatchedTensors& out) {
  const auto merged = loras.wrap(source, component, layout);
  for (const auto& [key, stored] : keys) {
    if (!merged->is_patched(key)) continue;
    const TensorInfo* info = file.find(stored.key);
    const Shape shape = weights::transform_shape(stored.transform, info->shape, info->name);
    out.emplace(stored.key, Patched{stored.transform, merged->get(key, shape)});
  }
  merged->check_all_patches_applied();
}

bool is_single_file_family(ModelFamily f) {
  return f == ModelFamily::SD1Checkpoint || f == ModelFamily::SD2Checkpoint || f == ModelFamily::SDXLBaseCheckpoint ||
         f == ModelFamily::SDXLRefinerCheckpoint;
}

// The diffusers component a bare weight file holds, from its keys.
std::string component_of_family(const FamilyGuess& g, const std::string& path) {
  switch (g.family) {
    case ModelFamily::DiffusersUNetSD1:
    case ModelFamily::DiffusersUNetSD2:
    case ModelFamily::DiffusersUNetSDXL: return "unet";
    case ModelFamily::ClipTextModel: return "text_encoder";
    case ModelFamily::ClipTextModelWithProjection: return "text_encoder_2";
    default:
      fail("{}: a {} cannot take LoRAs (expected a single-file SD/SDXL checkpoint, a diffusers UNet or CLIP text "
           "encoder file, or a component folder)",
           path, g.description);
  }
}

std::map<std::string, weights::MappedKey> identity_keys(const SafeTensorsFile& file) {
  std::map<std::string, weights::MappedKey> keys;
  for (const TensorInfo& t : file.tensors()) keys[t.name] = {t.name, weights::Transform::Copy};
  return keys;
}

}  // namespace

LoraMergeSummary merge_loras_into_checkpoint(const std::string& base, const nn::LoraSet& loras,
                                             const std::string& output) {
  DN_CHECK(!loras.empty(), "lora merge: no LoRA given");
  DN_CHECK(fs::exists(base), "lora merge: base {} not found", base);
  LoraMergeSummary summary;
  PatchedTensors patched;
  std::shared_ptr<const SafeTensorsFile> file;

  if (fs::is_directory(base)) {  // a diffusers component folder
    summary.weights_file = nn::component_weights_path(base);
    file = std::make_shared<const SafeTensorsFile>(SafeTensorsFile::open(summary.weights_file));
    const nn::ConfigReader config = nn::open_component_config(base);
    const std::string component = nn::lora_component_of(base, config);
    loras.check_components({component}, true);
    std::optional<weights::LdmUNetLayout> layout;
    if (component == "unet") layout = models::ldm_unet_layout(models::UNet2DConditionConfig::from(config));
    nn::SafeTensorsWeights source({summary.weights_file});
    merge_component(source, component, loras, layout ? &*layout : nullptr, identity_keys(*file), *file, patched);
  } else {
    summary.weights_file = base;
    file = std::make_shared<const SafeTensorsFile>(SafeTensorsFile::open(base));
    const FamilyGuess guess = guess_model_family(file->tensors());
    if (is_single_file_family(guess.family)) {
      std::vector<std::string> names;
      for (const TensorInfo& t : file->tensors()) names.push_back(t.name);
      const auto components = weights::map_checkpoint_keys(weights::checkpoint_spec(guess.family), names, base);
      std::vector<std::string> adaptable;
      for (const weights::ComponentKeys& c : components)
        if (c.spec.name != "vae") adaptable.emplace_back(c.spec.name);
      loras.check_components(adaptable, true);
      for (const weights::ComponentKeys& c : components) {
        if (c.spec.name == "vae") continue;
        std::optional<weights::LdmUNetLayout> layout;
        if (c.spec.name == "unet") layout = weights::LdmUNetLayout::infer(c.original);
        nn::SingleFileWeights source(file, std::make_shared<const weights::ComponentKeys>(c));
        merge_component(source, std::string(c.spec.name), loras, layout ? &*layout : nullptr, c.to_original, *file,
                        patched);
      }
    } else {
      const std::string component = component_of_family(guess, base);
      loras.check_components({component}, true);
      nn::SafeTensorsWeights source({base});
      merge_component(source, component, loras, nullptr, identity_keys(*file), *file, patched);
    }
  }

  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const TensorInfo& t : file->tensors()) {
    const auto [begin, end] = patched.equal_range(t.name);
    if (begin == end) {
      tensors.emplace_back(t.name, file->get(t.name));
      continue;
    }
    Tensor stored = file->get(t.name).to(DType::F32);
    for (auto it = begin; it != end; ++it) write_back(it->second, stored);
    tensors.emplace_back(t.name, stored.to(t.dtype));
    ++summary.patched_tensors;
  }
  std::map<std::string, std::string> metadata = file->metadata();
  std::string merged;
  for (const nn::LoraSet::Entry& e : loras.entries())
    merged += fmt::format("{}{}:{}", merged.empty() ? "" : " ", fs::path(e.file.path).filename().string(), e.weight);
  metadata["diffnorm_merged_loras"] = merged;
  save_safetensors(output, tensors, metadata);
  summary.tensors = tensors.size();
  return summary;
}

}  // namespace diffnorm
