#include "weights/checkpoint_layout.h"

#include <algorithm>
#include <array>
#include <set>

#include "core/check.h"
#include "weights/clip_key_map.h"
#include "weights/unet_key_map.h"
#include "weights/vae_key_map.h"

namespace diffnorm::weights {

namespace {

using L = ComponentLayout;

const std::vector<CheckpointSpec>& specs() {
  static const std::vector<CheckpointSpec> table = {
      {ModelFamily::SD1Checkpoint,
       "sd15",
       {{"unet", "model.diffusion_model.", L::LdmUNet},
        {"vae", "first_stage_model.", L::LdmVae},
        {"text_encoder", "cond_stage_model.transformer.", L::HfClip}}},
      {ModelFamily::SD2Checkpoint,
       "sd21",
       {{"unet", "model.diffusion_model.", L::LdmUNet},
        {"vae", "first_stage_model.", L::LdmVae},
        {"text_encoder", "cond_stage_model.model.", L::OpenClipPenultimate}}},
      {ModelFamily::SDXLBaseCheckpoint,
       "sdxl-base",
       {{"unet", "model.diffusion_model.", L::LdmUNet},
        {"vae", "first_stage_model.", L::LdmVae},
        {"text_encoder", "conditioner.embedders.0.transformer.", L::HfClip},
        {"text_encoder_2", "conditioner.embedders.1.model.", L::OpenClip}}},
      {ModelFamily::SDXLRefinerCheckpoint,
       "sdxl-refiner",
       {{"unet", "model.diffusion_model.", L::LdmUNet},
        {"vae", "first_stage_model.", L::LdmVae},
        {"text_encoder_2", "conditioner.embedders.0.model.", L::OpenClip}}},
      // A VAE on its own in the LDM layout (e.g. vae-ft-mse-840000); configured as SD's VAE.
      {ModelFamily::LdmVAE, "sd15", {{"vae", "", L::LdmVae}}},
  };
  return table;
}

// DDPM schedule buffers that LDM checkpoints save next to the weights.
constexpr std::array<std::string_view, 14> kScheduleBuffers = {
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
    "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
    "logvar", "lvlb_weights"};
// Prefixes of saved copies that are not the inference weights.
constexpr std::array<std::string_view, 1> kIgnoredPrefixes = {"model_ema."};

void add_rules(ComponentKeys& c) {
  const std::string prefix(c.spec.prefix);
  switch (c.spec.layout) {
    case L::LdmUNet: return add_ldm_unet_rules(c.map, LdmUNetLayout::infer(c.original), prefix);
    case L::LdmVae: return add_ldm_vae_rules(c.map, LdmVaeLayout::infer(c.original), prefix);
    case L::HfClip: return add_hf_clip_rules(c.map, prefix);
    case L::OpenClip: return add_openclip_rules(c.map, OpenClipLayout::infer(c.original), prefix, false);
    case L::OpenClipPenultimate: return add_openclip_rules(c.map, OpenClipLayout::infer(c.original), prefix, true);
  }
}

std::string prefix_list(const CheckpointSpec& spec) {
  std::string s;
  for (const ComponentSpec& c : spec.components) s += fmt::format("{}{} ({})", s.empty() ? "" : ", ", c.prefix, c.name);
  return s;
}

}  // namespace

const CheckpointSpec& checkpoint_spec(ModelFamily family) {
  for (const CheckpointSpec& s : specs())
    if (s.family == family) return s;
  fail("'{}' is not a single-file checkpoint family (sd1-checkpoint, sd2-checkpoint, sdxl-base-checkpoint, "
       "sdxl-refiner-checkpoint, ldm-vae)",
       family_id(family));
}

bool is_ignored_checkpoint_key(std::string_view key) {
  return std::find(kScheduleBuffers.begin(), kScheduleBuffers.end(), key) != kScheduleBuffers.end() ||
         std::any_of(kIgnoredPrefixes.begin(), kIgnoredPrefixes.end(),
                     [&](std::string_view p) { return key.starts_with(p); });
}

std::vector<ComponentKeys> map_checkpoint_keys(const CheckpointSpec& spec, const std::vector<std::string>& names,
                                               const std::string& origin) {
  // Each key goes to the component with the longest matching prefix (the VAE-only family's is "").
  std::vector<std::set<std::string, std::less<>>> owned(spec.components.size());
  for (const std::string& name : names) {
    int best = -1;
    for (std::size_t i = 0; i < spec.components.size(); ++i)
      if (name.starts_with(spec.components[i].prefix) &&
          (best < 0 || spec.components[i].prefix.size() > spec.components[std::size_t(best)].prefix.size()))
        best = int(i);
    if (is_ignored_checkpoint_key(name)) continue;
    DN_CHECK(best >= 0, "{}: tensor '{}' belongs to no component of a {} checkpoint (known prefixes: {})", origin, name,
             family_id(spec.family), prefix_list(spec));
    owned[std::size_t(best)].insert(name.substr(spec.components[std::size_t(best)].prefix.size()));
  }

  std::vector<ComponentKeys> out;
  for (std::size_t i = 0; i < spec.components.size(); ++i) {
    ComponentKeys c{spec.components[i], KeyNames(std::move(owned[i])), {}, {}};
    DN_CHECK(!c.original.names().empty(), "{}: no '{}' tensors: the {} component of a {} checkpoint is missing", origin,
             c.spec.prefix, c.spec.name, family_id(spec.family));
    add_rules(c);
    for (const std::string& local : c.original.names()) {
      const std::string key = std::string(c.spec.prefix) + local;
      const auto mapped = c.map.to_diffusers(key);
      DN_CHECK(mapped.has_value(), "{}: tensor '{}' of the {} ({}) maps to no diffusers key", origin, key, c.spec.name,
               family_id(spec.family));
      for (const MappedKey& m : *mapped) {
        const auto [it, fresh] = c.to_original.emplace(m.key, MappedKey{key, m.transform});
        DN_CHECK(fresh, "{}: tensors '{}' and '{}' both map to the diffusers key '{}'", origin, it->second.key, key, m.key);
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace diffnorm::weights
