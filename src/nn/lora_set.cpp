#include "nn/lora_set.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/check.h"

namespace diffnorm::nn {

LoraChoice parse_lora_choice(const std::string& arg) {
  const std::size_t colon = arg.rfind(':');
  LoraChoice c{arg, 1.0};
  if (colon != std::string::npos) {
    c.path = arg.substr(0, colon);
    const std::string w = arg.substr(colon + 1);
    char* end = nullptr;
    c.weight = std::strtod(w.c_str(), &end);
    DN_CHECK(!w.empty() && end == w.c_str() + w.size() && std::isfinite(c.weight),
             "LoRA '{}': the weight '{}' after the last ':' is not a number (expected FILE:WEIGHT, e.g. "
             "style.safetensors:0.8)",
             arg, w);
  }
  DN_CHECK(!c.path.empty(), "LoRA '{}': no file given (expected FILE:WEIGHT)", arg);
  return c;
}

std::string lora_component_of(const std::string& dir, const ConfigReader& config) {
  std::filesystem::path path = std::filesystem::path(dir).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();  // "dir/"
  const std::string folder = path.filename().string(), cls = config.get_string("_class_name", "");
  if (cls == "UNet2DConditionModel") return "unet";
  if (folder == "text_encoder_2" || cls == "CLIPTextModelWithProjection") return "text_encoder_2";
  DN_CHECK(cls.empty() || cls == "CLIPTextModel",
           "{}: a {} has no LoRA patches (LoRAs adapt UNet2DConditionModel, CLIPTextModel, "
           "CLIPTextModelWithProjection)", config.origin(), cls);
  return "text_encoder";
}

LoraSet LoraSet::load(const std::vector<LoraChoice>& choices) {
  LoraSet s;
  for (const LoraChoice& c : choices) s.entries_.push_back({weights::read_lora_file(c.path), c.weight});
  return s;
}

void LoraSet::check_components(const std::vector<std::string>& components, bool every_patch) const {
  auto known = [&](const std::string& c) { return std::find(components.begin(), components.end(), c) != components.end(); };
  std::string have;
  for (const std::string& c : components) have += (have.empty() ? "" : ", ") + c;
  for (const Entry& e : entries_) {
    const auto& patches = e.file.patches;
    DN_CHECK(std::any_of(patches.begin(), patches.end(), [&](const auto& p) { return known(p.component); }),
             "{}: the LoRA has no module for this model's networks ({}); it would change nothing", e.file.path, have);
    if (!every_patch) continue;
    for (const weights::LoraPatch& p : patches)
      DN_CHECK(known(p.component), "{}: LoRA module '{}' targets the {}, which this model does not have (it has {})",
               e.file.path, p.name, p.component, have);
  }
}

std::unique_ptr<LoraWeights> LoraSet::wrap(WeightSource& base, const std::string& component,
                                           const weights::LdmUNetLayout* original_layout) const {
  std::vector<WeightedLoraPatch> patches;
  for (const Entry& e : entries_)
    for (const weights::LoraPatch& p : e.file.patches)
      if (p.component == component) patches.push_back({&p, e.weight, e.file.path});
  return std::make_unique<LoraWeights>(base, std::move(patches), original_layout);
}

}  // namespace diffnorm::nn
