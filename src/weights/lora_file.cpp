#include "weights/lora_file.h"

#include <array>
#include <string_view>
#include <utility>

#include "core/check.h"
#include "diffnorm/safetensors.h"

namespace diffnorm::weights {

namespace {

// Where one tensor of the file goes: the patch it belongs to and which factor it is.
struct KeyParts {
  std::string name, component, module, factor;
  bool flat = false;
};

constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kKohyaPrefixes = {{
    {"lora_unet_", "unet"},
    {"lora_te1_", "text_encoder"},
    {"lora_te2_", "text_encoder_2"},
    {"lora_te_", "text_encoder"},
}};

// Factor suffixes after the module name -> canonical factor name.
constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kLoraFactors = {{
    {"lora_down.weight", "down"},
    {"lora_up.weight", "up"},
    {"lora.down.weight", "down"},
    {"lora.up.weight", "up"},
    {"lora_linear_layer.down.weight", "down"},
    {"lora_linear_layer.up.weight", "up"},
    {"lora_A.weight", "down"},
    {"lora_B.weight", "up"},
    {"alpha", "alpha"},
}};

constexpr std::array<std::string_view, 10> kLycorisFactors = {
    "hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "lokr_w1",
    "lokr_w1_a", "lokr_w1_b", "lokr_w2",   "lokr_w2_a", "lokr_w2_b",
};

std::optional<std::string> canonical_factor(std::string_view suffix) {
  for (const auto& [s, c] : kLoraFactors)
    if (suffix == s) return std::string(c);
  for (std::string_view f : kLycorisFactors)
    if (suffix == f) return std::string(f);
  return std::nullopt;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// lora_unet_<flat>.<factor>
std::optional<KeyParts> split_kohya_key(const std::string& key) {
  for (const auto& [prefix, component] : kKohyaPrefixes) {
    if (!key.starts_with(prefix)) continue;
    const std::size_t dot = key.find('.');
    if (dot == std::string::npos) return std::nullopt;
    const std::optional<std::string> factor = canonical_factor(std::string_view(key).substr(dot + 1));
    if (!factor) return std::nullopt;
    return KeyParts{key.substr(0, dot), std::string(component), key.substr(prefix.size(), dot - prefix.size()),
                    *factor, true};
  }
  return std::nullopt;
}

// <component>.<dotted path>.<factor>
std::optional<KeyParts> split_dotted_key(const std::string& key) {
  std::string rest = key, component;
  if (rest.starts_with("text_encoder_2.")) {
    component = "text_encoder_2", rest.erase(0, 15);
  } else if (rest.starts_with("text_encoder.")) {
    component = "text_encoder", rest.erase(0, 13);
  } else if (rest.starts_with("unet.")) {
    component = "unet";
    while (rest.starts_with("unet.")) rest.erase(0, 5);  // "unet.unet." (diffusers issue #5977)
  } else {
    return std::nullopt;
  }
  // The pre-0.21 attention-processor names: "attn1.processor.to_out_lora.down.weight".
  replace_all(rest, ".processor.", ".");
  for (const char* p : {"to_q", "to_k", "to_v"}) replace_all(rest, std::string(p) + "_lora.", std::string(p) + ".lora.");
  replace_all(rest, "to_out_lora.", "to_out.0.lora.");
  for (const auto& [suffix, factor] : kLoraFactors) {
    if (rest.size() <= suffix.size() + 1 || !rest.ends_with(suffix) || rest[rest.size() - suffix.size() - 1] != '.')
      continue;
    const std::string module = rest.substr(0, rest.size() - suffix.size() - 1);
    return KeyParts{component + "." + module, component, module, std::string(factor), false};
  }
  return std::nullopt;
}

LoraKind kind_of(const LoraPatch& p, const std::string& origin) {
  bool lora = false, loha = false, lokr = false;
  for (const auto& [f, t] : p.factors) {
    lora |= f == "down" || f == "up";
    loha |= f.starts_with("hada_");
    lokr |= f.starts_with("lokr_");
  }
  DN_CHECK(int(lora) + int(loha) + int(lokr) == 1, "{}: module '{}' mixes LoRA, LoHa and LoKr factors", origin,
           p.name);
  return lora ? LoraKind::LoRA : loha ? LoraKind::LoHa : LoraKind::LoKr;
}

void check_factors(const LoraPatch& p, const std::string& origin) {
  auto need = [&](const char* f) {
    DN_CHECK(p.factors.count(f), "{}: module '{}' lacks its '{}' tensor", origin, p.name, f);
  };
  switch (p.kind) {
    case LoraKind::LoRA: need("down"), need("up"); break;
    case LoraKind::LoHa:
      for (const char* f : {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"}) need(f);
      break;
    case LoraKind::LoKr:
      for (const char* w : {"lokr_w1", "lokr_w2"}) {
        const std::string full = w, a = full + "_a", b = full + "_b";
        const bool has_full = p.factors.count(full), has_a = p.factors.count(a), has_b = p.factors.count(b);
        DN_CHECK(has_full != (has_a && has_b) && has_a == has_b,
                 "{}: module '{}' needs either '{}' or both '{}' and '{}'", origin, p.name, full, a, b);
      }
      break;
  }
}

}  // namespace

std::string flatten_module_path(const std::string& path) {
  std::string s = path;
  for (char& c : s)
    if (c == '.') c = '_';
  return s;
}

LoraFile read_lora_file(const std::string& path) {
  const SafeTensorsFile file = SafeTensorsFile::open(path);
  DN_CHECK(!file.tensors().empty(), "{}: the LoRA file holds no tensors", path);
  std::map<std::string, LoraPatch> by_name;
  for (const TensorInfo& info : file.tensors()) {
    std::optional<KeyParts> parts = split_kohya_key(info.name);
    if (!parts) parts = split_dotted_key(info.name);
    DN_CHECK(parts.has_value(),
             "{}: tensor '{}' is not a LoRA tensor of a known form (kohya 'lora_unet_*.lora_down.weight' / "
             "'.alpha', LyCORIS 'hada_w1_a' / 'lokr_w1', diffusers 'unet.*.lora.down.weight', PEFT "
             "'*.lora_A.weight'; Tucker, DoRA and bias factors are not supported)",
             path, info.name);
    DN_CHECK(info.dtype == DType::F32 || info.dtype == DType::F16 || info.dtype == DType::BF16,
             "{}: tensor '{}' has dtype {}, expected F32, F16 or BF16", path, info.name, dtype_name(info.dtype));
    LoraPatch& p = by_name[parts->name];
    p.name = parts->name, p.component = parts->component, p.module = parts->module, p.flat = parts->flat;
    const Tensor t = file.get(info.name).to(DType::F32);
    if (parts->factor == "alpha") {
      DN_CHECK(t.numel() == 1, "{}: '{}' should hold one number, has shape {}", path, info.name, shape_str(t.shape()));
      p.alpha = t.item(0);
    } else {
      DN_CHECK(p.factors.emplace(parts->factor, t).second, "{}: module '{}' has two '{}' tensors (e.g. '{}')", path,
               p.name, parts->factor, info.name);
    }
  }
  LoraFile out{path, {}};
  for (auto& [name, p] : by_name) {
    DN_CHECK(!p.factors.empty(), "{}: module '{}' has an alpha but no factors", path, name);
    p.kind = kind_of(p, path);
    check_factors(p, path);
    out.patches.push_back(std::move(p));
  }
  return out;
}

}  // namespace diffnorm::weights
