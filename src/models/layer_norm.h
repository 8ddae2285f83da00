// LayerNorm (torch.nn.LayerNorm(dim)) over the last dimension of [B, T, D]:
//   y = γ · (x − μ) / sqrt(σ² + eps) + β, statistics per token.
#pragma once

#include "diffnorm/norm.h"
#include "nn/module_path.h"

namespace diffnorm::models {

class LayerNorm {
 public:
  LayerNorm(const nn::ModulePath& p, int64_t dim, float eps)
      : gamma_(p.param("weight", {dim})), beta_(p.param("bias", {dim})), eps_(eps) {}

  Tensor forward(const Tensor& x) const {
    NormParams params;
    params.gamma = gamma_;
    params.beta = beta_;
    return layer_norm(x, eps_, params).y;
  }

 private:
  Tensor gamma_, beta_;
  float eps_;
};

}  // namespace diffnorm::models
