// ModulePath: a WeightSource seen from one module ("down_blocks.1.resnets.0"). A module
// binds its parameters by their local names; the full key is the path walked to it, as
// in the checkpoint, so a missing or extra key is reported by its full name.
#pragma once

#include <cstdint>
#include <string>

#include "nn/weight_source.h"

namespace diffnorm::nn {

class ModulePath {
 public:
  ModulePath(WeightSource& source, std::string prefix = {}) : source_(&source), prefix_(std::move(prefix)) {}

  /// The child module `name` ("conv1") or the element `index` of a list ("resnets", 0).
  ModulePath operator/(const std::string& name) const { return {*source_, key(name)}; }
  ModulePath operator/(int64_t index) const { return *this / std::to_string(index); }

  /// The full key of a parameter or child of this module.
  std::string key(const std::string& name) const { return prefix_.empty() ? name : prefix_ + "." + name; }
  /// This module's own path ("" for the root).
  const std::string& path() const { return prefix_; }

  /// The parameter `name` of this module, fp32, checked against `shape`.
  Tensor param(const std::string& name, const Shape& shape) const { return source_->get(key(name), shape); }
  /// See WeightSource::ignore.
  void ignore(const std::string& name) const { source_->ignore(key(name)); }
  WeightSource& source() const { return *source_; }

 private:
  WeightSource* source_;
  std::string prefix_;
};

}  // namespace diffnorm::nn
