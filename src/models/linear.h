// Linear (torch.nn.Linear): y = x Wᵀ + b over the last dimension; weight [out, in], bias
// [out]; run by ops::Linear (oneDNN), which keeps its own copy of the weights.
#pragma once

#include "nn/module_path.h"
#include "ops/linear.h"

namespace diffnorm::models {

class Linear {
 public:
  Linear(const nn::ModulePath& p, int64_t in_features, int64_t out_features, bool bias = true)
      : linear_(p.param("weight", {out_features, in_features}), bias ? p.param("bias", {out_features}) : Tensor()) {}

  /// x [..., in] -> [..., out]
  Tensor forward(const Tensor& x) const { return linear_.forward(x); }
  /// y += x Wᵀ + b (a fused residual add).
  void forward_accumulate(const Tensor& x, Tensor& y) const { linear_.forward(x, y, true); }
  int64_t out_features() const { return linear_.out_features(); }

 private:
  ops::Linear linear_;
};

}  // namespace diffnorm::models
