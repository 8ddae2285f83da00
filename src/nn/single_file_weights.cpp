#include "nn/single_file_weights.h"

#include <filesystem>

#include "core/check.h"
#include "weights/derived_config.h"

namespace diffnorm::nn {

// ---- SingleFileWeights -----------------------------------------------------------------

SingleFileWeights::SingleFileWeights(std::shared_ptr<const SafeTensorsFile> file,
                                     std::shared_ptr<const weights::ComponentKeys> keys)
    : file_(std::move(file)), keys_(std::move(keys)) {}

std::string SingleFileWeights::origin() const { return fmt::format("{} [{}]", file_->path(), keys_->spec.name); }

std::optional<Shape> SingleFileWeights::shape_of(const std::string& key, const Shape& requested) const {
  const auto it = keys_->to_original.find(key);
  if (it == keys_->to_original.end()) {
    const std::optional<weights::MappedKey> original = keys_->map.to_original(key);
    if (!original) fail("{}: weight '{}' (shape {}) has no counterpart in the single-file layout", origin(), key, shape_str(requested));
    fail("{}: missing weight '{}' (expected shape {}): the checkpoint has no tensor '{}'", origin(), key,
         shape_str(requested), original->key);
  }
  const TensorInfo* t = file_->find(it->second.key);
  return weights::transform_shape(it->second.transform, t->shape, t->name);
}

Tensor SingleFileWeights::load(const std::string& key, const Shape&) {
  const weights::MappedKey& m = keys_->to_original.at(key);
  const Tensor t = file_->get(m.key);
  const DType d = t.dtype();
  DN_CHECK(d == DType::F32 || d == DType::F16 || d == DType::BF16,
           "{}: tensor '{}' (for '{}') has dtype {}, expected F32, F16 or BF16", origin(), m.key, key, dtype_name(d));
  return weights::transform_tensor(m.transform, t);
}

std::vector<std::string> SingleFileWeights::keys() const {
  std::vector<std::string> out;
  out.reserve(keys_->to_original.size());
  for (const auto& [key, mapped] : keys_->to_original) out.push_back(key);
  return out;
}

// ---- SingleFileCheckpoint --------------------------------------------------------------

SingleFileCheckpoint SingleFileCheckpoint::open(const std::string& path, const SingleFileOptions& options) {
  SingleFileCheckpoint c;
  c.file_ = std::make_shared<const SafeTensorsFile>(SafeTensorsFile::open(path));
  ModelFamily family = ModelFamily::Unknown;
  if (options.family) {
    family = *options.family;
  } else {
    const FamilyGuess guess = guess_model_family(c.file_->tensors());
    family = guess.family;
    DN_CHECK(family != ModelFamily::Unknown, "{}: not a recognised single-file checkpoint ({})", path, guess.description);
  }
  c.spec_ = &weights::checkpoint_spec(family);
  std::vector<std::string> names;
  for (const TensorInfo& t : c.file_->tensors()) names.push_back(t.name);
  c.components_ = std::make_shared<const std::vector<weights::ComponentKeys>>(
      weights::map_checkpoint_keys(*c.spec_, names, path));
  c.config_dir_ = options.config_dir;
  return c;
}

std::vector<std::string> SingleFileCheckpoint::components() const {
  std::vector<std::string> out;
  for (const weights::ComponentKeys& k : *components_) out.emplace_back(k.spec.name);
  return out;
}

const weights::ComponentKeys* SingleFileCheckpoint::find(const std::string& component) const {
  for (const weights::ComponentKeys& k : *components_)
    if (k.spec.name == component) return &k;
  return nullptr;
}

std::unique_ptr<SingleFileWeights> SingleFileCheckpoint::weights(const std::string& component) const {
  const weights::ComponentKeys* k = find(component);
  DN_CHECK(k != nullptr, "{}: a {} checkpoint has no component '{}'", path(), family_id(family()), component);
  // Aliasing pointer: the component's keys live as long as any source over them.
  return std::make_unique<SingleFileWeights>(file_, std::shared_ptr<const weights::ComponentKeys>(components_, k));
}

ConfigReader SingleFileCheckpoint::config(const std::string& component) const {
  const weights::ComponentKeys* k = find(component);
  DN_CHECK(k != nullptr, "{}: a {} checkpoint has no component '{}'", path(), family_id(family()), component);
  if (!config_dir_.empty())
    return ConfigReader::load((std::filesystem::path(config_dir_) / component / "config.json").string());
  const std::size_t index = std::size_t(k - components_->data());
  return ConfigReader(weights::derive_component_config(*spec_, *components_, index, *file_),
                      fmt::format("{} [{} config derived from the tensors and the {} preset]", path(), component,
                                  spec_->preset));
}

}  // namespace diffnorm::nn
