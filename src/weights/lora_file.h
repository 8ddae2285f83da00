// A LoRA-family adapter file read into format-independent patches: one patch per adapted
// module, naming the component and module it targets and holding its factor tensors.
//
// Key formats (the module name and the factor are split off each key; nothing else parsed):
//   kohya      lora_unet_<flat>.lora_down.weight / .lora_up.weight / .alpha
//              lora_te_ (SD1 text_encoder), lora_te1_ / lora_te2_ (SDXL text_encoder / _2);
//              <flat> is a module path with '.' -> '_' (diffusers path for SD1 files, the
//              original input_blocks/... path for SDXL files): matched against the model's
//              own module names by nn/lora_weights.h, never split here
//   LyCORIS    the kohya names with LoHa factors hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b
//              or LoKr factors lokr_w1 | lokr_w1_a + lokr_w1_b, lokr_w2 | lokr_w2_a + lokr_w2_b
//   diffusers  unet.<path>.lora.down.weight / .lora.up.weight (also "unet.unet." from 0.23's
//              training scripts; the older "<attn>.processor.to_q_lora.down.weight" form),
//              text_encoder[_2].<path>.lora_linear_layer.down.weight / .up.weight
//   PEFT       <component>.<path>.lora_A.weight (down) / .lora_B.weight (up)
// Every tensor is converted to float32 when read. A key of no known form, an unsupported
// factor (Tucker "lora_mid"/"hada_t1"/"lokr_t2", DoRA "dora_scale") or a module with an
// incomplete set of factors is an Error naming the file and the key.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "diffnorm/tensor.h"

namespace diffnorm::weights {

enum class LoraKind {
  LoRA,  // delta = up @ down                        (kohya LoRA, LoCon, diffusers, PEFT)
  LoHa,  // delta = (w1_a @ w1_b) * (w2_a @ w2_b)    (LyCORIS Hadamard product)
  LoKr,  // delta = kron(w1, w2)                     (LyCORIS Kronecker product)
};

struct LoraPatch {
  std::string name;       // the module's name as the file spells it, for messages
  std::string component;  // "unet", "text_encoder" or "text_encoder_2"
  std::string module;     // the target: a dotted module path, or a flattened one when `flat`
  bool flat = false;      // kohya-style name: a module path with every '.' replaced by '_'
  LoraKind kind = LoraKind::LoRA;
  /// Factors by canonical name: LoRA "down", "up"; LoHa "hada_w1_a" ...; LoKr "lokr_w1" ...
  std::map<std::string, Tensor> factors;
  std::optional<double> alpha;  // the stored alpha, if any
};

struct LoraFile {
  std::string path;
  std::vector<LoraPatch> patches;  // sorted by name
};

/// Reads and validates `path` (see the formats above). An empty file is an Error.
LoraFile read_lora_file(const std::string& path);

/// The kohya-style flat form of a module path: every '.' replaced by '_'.
std::string flatten_module_path(const std::string& path);

}  // namespace diffnorm::weights
