#include "io/model_summary.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/check.h"
#include "diffnorm/safetensors.h"
#include "io/json_file.h"
#include "io/model_family.h"

namespace diffnorm {

namespace fs = std::filesystem;

namespace {

// Metadata values (kohya files keep whole JSON documents there) are cut to this length
// unless every tensor is listed.
constexpr std::size_t kMetadataValueWidth = 100;

// Config keys worth showing for each diffusers component, when present.
constexpr std::string_view kConfigKeys[] = {
    "sample_size", "in_channels", "out_channels", "block_out_channels", "layers_per_block",
    "cross_attention_dim", "attention_head_dim", "transformer_layers_per_block", "use_linear_projection",
    "addition_embed_type", "projection_class_embeddings_input_dim", "latent_channels", "scaling_factor",
    "hidden_size", "num_hidden_layers", "projection_dim", "prediction_type", "num_train_timesteps",
    "beta_schedule", "timestep_spacing"};

struct Totals {
  std::size_t tensors = 0;
  uint64_t parameters = 0;
  std::set<std::string_view> dtypes;
  void add(const TensorInfo& t) {
    ++tensors;
    parameters += uint64_t(shape_numel(t.shape));
    dtypes.insert(dtype_name(t.dtype));
  }
  std::string dtype_list() const { return fmt::format("{}", fmt::join(dtypes, ",")); }
};

std::string shorten(const std::string& text, std::size_t width) {
  std::string flat = text;
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  if (flat.size() <= width) return flat;
  return fmt::format("{}... ({} chars)", flat.substr(0, width), flat.size());
}

bool is_safetensors(const fs::path& p) { return fs::is_regular_file(p) && p.extension() == ".safetensors"; }

std::vector<fs::path> safetensors_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (is_safetensors(entry.path())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// One line per interesting config key: "sample_size=64 block_out_channels=[8,16,32]".
std::string config_line(const fs::path& config_path) {
  const JsonConfig config = JsonConfig::load(config_path.string());
  std::vector<std::string> parts;
  if (config.has("_class_name")) parts.push_back(config.get<std::string>("_class_name"));
  for (std::string_view key : kConfigKeys)
    if (config.has(key)) parts.push_back(fmt::format("{}={}", key, config.node()[std::string(key)].dump()));
  return fmt::format("{}", fmt::join(parts, " "));
}

// Summary lines of one weights file inside a folder (indented).
std::string component_weights(const fs::path& file, Totals& pipeline_totals, std::vector<FamilyGuess>& guesses) {
  const SafeTensorsFile st = SafeTensorsFile::open(file.string());
  Totals totals;
  for (const TensorInfo& t : st.tensors()) {
    totals.add(t);
    pipeline_totals.add(t);
  }
  const FamilyGuess guess = guess_model_family(st.tensors());
  guesses.push_back(guess);
  return fmt::format("    weights {}: {} tensors, {} parameters ({})\n    family: {} ({})\n", file.filename().string(),
                     totals.tensors, with_thousands(totals.parameters), totals.dtype_list(), family_id(guess.family),
                     guess.description);
}

// "SDXL refiner", "SD1.x", ... from the pipeline class and the components' guesses.
std::string pipeline_family(const JsonConfig& index, const std::vector<FamilyGuess>& guesses) {
  const std::string cls = index.get_or<std::string>("_class_name", "");
  auto has_guess = [&](ModelFamily f) {
    return std::any_of(guesses.begin(), guesses.end(), [&](const FamilyGuess& g) { return g.family == f; });
  };
  if (cls.find("XL") != std::string::npos || has_guess(ModelFamily::DiffusersUNetSDXL)) {
    // The refiner conditions on an aesthetic score and has no CLIP-L text encoder.
    const bool refiner = index.get_or<bool>("requires_aesthetics_score", false) ||
                         (index.has("text_encoder_2") && !has_guess(ModelFamily::ClipTextModel));
    return refiner ? "SDXL refiner" : "SDXL base";
  }
  if (has_guess(ModelFamily::DiffusersUNetSD2)) return "SD2.x";
  if (has_guess(ModelFamily::DiffusersUNetSD1)) return "SD1.x";
  return "unknown";
}

std::string summarize_component(const fs::path& dir, const std::string& label, Totals& totals,
                                std::vector<FamilyGuess>& guesses) {
  std::string out = fmt::format("  {}\n", label);
  for (const char* config_name : {"config.json", "scheduler_config.json"}) {
    if (fs::is_regular_file(dir / config_name)) out += fmt::format("    config: {}\n", config_line(dir / config_name));
  }
  const std::vector<fs::path> weights = safetensors_in(dir);
  for (const fs::path& file : weights) out += component_weights(file, totals, guesses);
  if (weights.empty()) {
    bool has_bin = false;
    for (const auto& entry : fs::directory_iterator(dir)) has_bin |= entry.path().extension() == ".bin";
    if (has_bin) out += "    weights: only .bin (pickle) files, which diffnorm does not read\n";
  }
  return out;
}

}  // namespace

std::string with_thousands(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string tensor_group(const std::string& name) {
  // kohya adapter keys flatten the module path with '_': group by "lora_unet", "lora_te1", ...
  if (name.starts_with("lora_")) {
    const std::size_t end = name.find_first_of("_.", 5);
    return name.substr(0, end);
  }
  // Wrapper prefixes of the single-file layouts keep their next component(s).
  int depth = 1;
  if (name.starts_with("model.") || name.starts_with("cond_stage_model.")) depth = 2;
  if (name.starts_with("conditioner.embedders.")) depth = 3;
  std::size_t end = 0;
  for (int i = 0; i < depth && end != std::string::npos; ++i) end = name.find('.', end == 0 ? 0 : end + 1);
  return name.substr(0, end);
}

std::string summarize_safetensors(const std::string& path, bool list_every_tensor) {
  const SafeTensorsFile st = SafeTensorsFile::open(path);
  Totals totals;
  std::map<std::string, Totals> groups;
  for (const TensorInfo& t : st.tensors()) {
    totals.add(t);
    groups[tensor_group(t.name)].add(t);
  }
  const FamilyGuess guess = guess_model_family(st.tensors());
  std::string out = fmt::format("{}\n", path);
  out += fmt::format("  {} tensors, {} parameters ({}), {} bytes\n", totals.tensors, with_thousands(totals.parameters),
                     totals.dtype_list(), with_thousands(fs::file_size(path)));
  out += fmt::format("  family: {} ({})\n", family_id(guess.family), guess.description);
  if (!guess.evidence.empty()) out += fmt::format("  evidence: {}\n", guess.evidence);
  out += fmt::format("  metadata: {} entries\n", st.metadata().size());
  for (const auto& [key, value] : st.metadata())
    out += fmt::format("    {}: {}\n", key, list_every_tensor ? value : shorten(value, kMetadataValueWidth));
  if (list_every_tensor) {
    out += "  tensors (in data order):\n";
    for (const TensorInfo& t : st.tensors())
      out += fmt::format("    {} {} {}\n", t.name, dtype_name(t.dtype), shape_str(t.shape));
  } else {
    out += "  groups (--all lists every tensor):\n";
    std::size_t width = 0;
    for (const auto& [name, g] : groups) width = std::max(width, name.size());
    for (const auto& [name, g] : groups) {
      out += fmt::format("    {:<{}}  {:>6} tensors  {:>15} parameters  {}\n", name, width, g.tensors,
                         with_thousands(g.parameters), g.dtype_list());
    }
  }
  return out;
}

std::string summarize_model_folder(const std::string& dir, bool list_every_tensor) {
  const fs::path root(dir);
  Totals totals;
  std::vector<FamilyGuess> guesses;
  if (!fs::is_regular_file(root / "model_index.json")) {
    const bool component = fs::is_regular_file(root / "config.json") && !safetensors_in(root).empty();
    DN_CHECK(component,
             "{}: not a diffusers folder: no model_index.json, and not a component folder (config.json and a "
             ".safetensors file)",
             dir);
    std::string out = fmt::format("{}: diffusers component\n", dir);
    out += summarize_component(root, root.filename().string(), totals, guesses);
    if (list_every_tensor)
      for (const fs::path& file : safetensors_in(root)) out += summarize_safetensors(file.string(), true);
    return out;
  }

  const JsonConfig index = JsonConfig::load((root / "model_index.json").string());
  std::string body;
  for (const auto& [name, value] : index.node().items()) {
    if (name.starts_with("_") || !value.is_array()) continue;  // _class_name, flags
    const std::vector<std::string> spec = value.size() == 2 && value[0].is_string() && value[1].is_string()
                                              ? index.get<std::vector<std::string>>(name)
                                              : std::vector<std::string>{};
    if (spec.empty()) {
      body += fmt::format("  {}: absent\n", name);
      continue;
    }
    const std::string label = fmt::format("{}: {}.{}", name, spec[0], spec[1]);
    if (!fs::is_directory(root / name)) {
      body += fmt::format("  {}\n    (folder missing)\n", label);
      continue;
    }
    body += summarize_component(root / name, label, totals, guesses);
    if (list_every_tensor)
      for (const fs::path& file : safetensors_in(root / name)) body += summarize_safetensors(file.string(), true);
  }
  std::string out = fmt::format("{}: diffusers pipeline {} (diffusers {})\n", dir,
                                index.get_or<std::string>("_class_name", "?"),
                                index.get_or<std::string>("_diffusers_version", "?"));
  out += fmt::format("  family: {}\n", pipeline_family(index, guesses));
  out += fmt::format("  {} tensors, {} parameters ({})\n", totals.tensors, with_thousands(totals.parameters),
                     totals.dtype_list());
  return out + body;
}

std::string summarize_model_path(const std::string& path, bool list_every_tensor) {
  const fs::path p(path);
  DN_CHECK(fs::exists(p), "{}: no such file or folder", path);
  if (fs::is_directory(p)) return summarize_model_folder(path, list_every_tensor);
  return summarize_safetensors(path, list_every_tensor);
}

}  // namespace diffnorm
