#include "nn/lora_weights.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "weights/lora_delta.h"

namespace diffnorm::nn {

LoraWeights::LoraWeights(WeightSource& base, std::vector<WeightedLoraPatch> patches,
                         const weights::LdmUNetLayout* original_layout)
    : base_(base), patches_(std::move(patches)), applied_(patches_.size(), false) {
  for (std::size_t i = 0; i < patches_.size(); ++i) {
    const weights::LoraPatch& p = *patches_[i].patch;
    (p.flat ? by_flat_name_ : by_path_).emplace(p.module, i);
  }
  if (original_layout) {
    original_names_.emplace();
    weights::add_ldm_unet_rules(*original_names_, *original_layout, "");
  }
}

std::vector<std::size_t> LoraWeights::patches_of(const std::string& module) const {
  std::vector<std::size_t> out;
  auto add = [&](const std::multimap<std::string, std::size_t>& index, const std::string& name) {
    for (auto [it, end] = index.equal_range(name); it != end; ++it)
      if (std::find(out.begin(), out.end(), it->second) == out.end()) out.push_back(it->second);
  };
  add(by_path_, module);
  add(by_flat_name_, weights::flatten_module_path(module));
  if (original_names_) {
    const std::optional<weights::MappedKey> original = original_names_->to_original(module + ".weight");
    if (original && original->key.ends_with(".weight"))
      add(by_flat_name_, weights::flatten_module_path(original->key.substr(0, original->key.size() - 7)));
  }
  return out;
}

Tensor LoraWeights::load(const std::string& key, const Shape& shape) {
  Tensor stored = inner_load(base_, key, shape);
  if (!key.ends_with(".weight") || patches_.empty()) return stored;
  const std::vector<std::size_t> matched = patches_of(key.substr(0, key.size() - 7));
  if (matched.empty()) return stored;

  std::vector<double> sum(std::size_t(shape_numel(shape)), 0.0);
  for (std::size_t i : matched) {
    const WeightedLoraPatch& wp = patches_[i];
    const std::vector<double> delta = weights::lora_delta(*wp.patch, shape, fmt::format("{} (for {})", wp.file, key));
    for (std::size_t j = 0; j < sum.size(); ++j) sum[j] += wp.weight * delta[j];
    applied_[i] = true;
  }
  const Tensor base = stored.to(DType::F32).contiguous();
  Tensor merged = Tensor::empty(shape, DType::F32);
  const float* w = base.data<float>();
  float* out = merged.data<float>();
  for (std::size_t j = 0; j < sum.size(); ++j) out[j] = float(double(w[j]) + sum[j]);
  return merged;
}

bool LoraWeights::is_patched(const std::string& key) const {
  return key.ends_with(".weight") && !patches_of(key.substr(0, key.size() - 7)).empty();
}

void LoraWeights::check_all_used() const {
  WeightSource::check_all_used();
  check_all_patches_applied();
}

void LoraWeights::check_all_patches_applied() const {
  std::vector<std::string> unmatched;
  for (std::size_t i = 0; i < patches_.size(); ++i)
    if (!applied_[i]) unmatched.push_back(fmt::format("'{}' ({})", patches_[i].patch->name, patches_[i].file));
  if (unmatched.empty()) return;
  std::string list;
  for (const std::string& u : unmatched) list += (list.empty() ? "" : ", ") + u;
  fail("{}: {} LoRA module(s) match no Linear/Conv2d module of the model (wrong base model?): {}", origin(),
       unmatched.size(), list);
}

}  // namespace diffnorm::nn
