// The components of a single-file checkpoint (LDM / SGM layout) as data: for each family,
// which key prefix holds which diffusers component and in which layout, and the preset
// whose configs describe it. CheckpointKeys partitions a file's tensor names over those
// components and maps every one of them to its diffusers name, so that a key belonging to
// no component, or one no rule maps, is an error before any model is built.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/model_family.h"
#include "weights/key_map.h"
#include "weights/key_names.h"

namespace diffnorm::weights {

enum class ComponentLayout {
  LdmUNet,              // openaimodel.UNetModel
  LdmVae,               // ldm Encoder/Decoder
  HfClip,               // transformers CLIPTextModel names
  OpenClip,             // OpenCLIP text tower, every block + text_projection (SDXL bigG)
  OpenClipPenultimate,  // OpenCLIP text tower minus its last block and projection (SD2.x)
};

struct ComponentSpec {
  std::string_view name;    // diffusers component folder: "unet", "vae", "text_encoder", "text_encoder_2"
  std::string_view prefix;  // key prefix in the single file
  ComponentLayout layout;
};

struct CheckpointSpec {
  ModelFamily family;
  std::string_view preset;  // model_presets name of the real model of this family
  std::vector<ComponentSpec> components;
};

/// The spec of a single-file family (Error naming the family when it is not one).
const CheckpointSpec& checkpoint_spec(ModelFamily family);

/// Whether `key` is a known non-weight entry of single files (DDPM schedule buffers, EMA
/// copies), which no component uses.
bool is_ignored_checkpoint_key(std::string_view key);

/// One component's keys: its original names (prefix removed), the rules between the two
/// layouts and every diffusers key the file provides with where it comes from.
struct ComponentKeys {
  ComponentSpec spec;
  KeyNames original;                              // names under spec.prefix, prefix removed
  KeyMap map;                                     // full original names <-> diffusers names
  std::map<std::string, MappedKey> to_original;  // diffusers key -> full original key (+ transform)
};

/// Partitions `names` (a file's tensor names) over the components of `spec` and maps each.
/// `origin` names the file in errors.
std::vector<ComponentKeys> map_checkpoint_keys(const CheckpointSpec& spec, const std::vector<std::string>& names,
                                               const std::string& origin);

}  // namespace diffnorm::weights
