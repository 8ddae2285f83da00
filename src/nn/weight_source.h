// WeightSource: a model's parameters by full key ("down_blocks.1.resnets.0.norm1.weight").
//
// Modules ask for each parameter with the shape they expect; the source hands it out as a
// contiguous fp32 tensor (converting f16/bf16 at load) and records the key as used. After a
// model is built, check_all_used() reports every key the model did not ask for, so a
// checkpoint that does not fit the config fails loudly instead of running half-bound.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "diffnorm/safetensors.h"
#include "diffnorm/tensor.h"

namespace diffnorm::nn {

class WeightSource {
 public:
  virtual ~WeightSource() = default;

  /// The parameter `key` as a contiguous fp32 tensor of shape `expected`. Throws an Error
  /// naming the key and both shapes when it is missing or has another shape.
  Tensor get(const std::string& key, const Shape& expected);
  /// Marks a key the model knowingly does not use (e.g. a saved buffer such as CLIP's
  /// position_ids) as consumed, if present.
  void ignore(const std::string& key);
  /// Throws an Error listing the keys no module asked for (the first few and the count).
  virtual void check_all_used() const;
  /// Where the weights come from, for messages ("dir/model.safetensors").
  virtual std::string origin() const = 0;

 protected:
  /// The stored shape of `key`, nullopt when absent (`requested` is what get() expects).
  virtual std::optional<Shape> shape_of(const std::string& key, const Shape& requested) const = 0;
  /// The stored tensor (any float dtype, shape already checked).
  virtual Tensor load(const std::string& key, const Shape& shape) = 0;
  /// Every key this source holds, for the unused-key check.
  virtual std::vector<std::string> keys() const = 0;

  // The hooks above of another source, for a source that wraps one (nn/lora_weights.h).
  static std::optional<Shape> inner_shape_of(const WeightSource& inner, const std::string& key, const Shape& requested) {
    return inner.shape_of(key, requested);
  }
  static Tensor inner_load(WeightSource& inner, const std::string& key, const Shape& shape) {
    return inner.load(key, shape);
  }
  static std::vector<std::string> inner_keys(const WeightSource& inner) { return inner.keys(); }

 private:
  std::set<std::string> used_;
};

/// Weights from one or more safetensors files (a key must not occur in two of them).
class SafeTensorsWeights : public WeightSource {
 public:
  explicit SafeTensorsWeights(const std::vector<std::string>& paths);
  std::string origin() const override;

 protected:
  std::optional<Shape> shape_of(const std::string& key, const Shape& requested) const override;
  Tensor load(const std::string& key, const Shape& shape) override;
  std::vector<std::string> keys() const override;

 private:
  const SafeTensorsFile* file_of(const std::string& key) const;
  std::vector<SafeTensorsFile> files_;
};

/// Deterministic random weights of whatever shape a module asks for, so a full-size model
/// can be built from its config alone (benchmarks). A key's values depend only on the seed
/// and the key: 2-D+ weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default scale),
/// 1-D "*.weight" (norm scales) ~ 1 + U(-0.1, 0.1), other 1-D tensors ~ U(-0.05, 0.05).
class RandomWeights : public WeightSource {
 public:
  explicit RandomWeights(uint64_t seed = 0) : seed_(seed) {}
  std::string origin() const override { return "<random weights>"; }
  /// Every key is generated on request: nothing can be unused.
  void check_all_used() const override {}

 protected:
  std::optional<Shape> shape_of(const std::string&, const Shape& requested) const override { return requested; }
  Tensor load(const std::string& key, const Shape& shape) override;
  std::vector<std::string> keys() const override { return {}; }

 private:
  uint64_t seed_;
};

}  // namespace diffnorm::nn
