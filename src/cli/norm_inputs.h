// The input file of `diffnorm norm`: named tensors read from a safetensors file, checked
// once at the boundary (known names, floating-point types, finite values, shapes), so that
// the layer call itself sees only valid data.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "diffnorm/tensor.h"

namespace diffnorm::cli {

class NormInputs {
 public:
  /// Reads every tensor of `path`; an unknown name, a non-float tensor (other than an
  /// integer num_batches_tracked) or a NaN/Inf value is an Error that says where.
  static NormInputs read(const std::string& path);

  bool has(std::string_view name) const { return tensors_.count(std::string(name)) != 0; }
  /// The tensor converted to `dtype` (contiguous, owned); Error if absent.
  Tensor get(std::string_view name, DType dtype) const;
  /// The tensor as fp32, or nothing when the file does not hold it.
  std::optional<Tensor> optional_f32(std::string_view name) const;
  /// Error unless the tensor, when present, has exactly `shape`; `what` explains the shape.
  void expect_shape(std::string_view name, const Shape& shape, std::string_view what) const;
  /// Error when the tensor is present: `why` says why this layer cannot use it.
  void reject(std::string_view name, std::string_view why) const;
  const Tensor& raw(std::string_view name) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<std::string, Tensor> tensors_;
};

}  // namespace diffnorm::cli
