// GroupNorm (torch.nn.GroupNorm, affine) over NHWC activations [N, H, W, C] or tokens
// [N, T, C], optionally followed by SiLU in the same pass:
//   y = act(γ · (x − μ_g) / sqrt(σ²_g + eps) + β), statistics per (sample, group).
#pragma once

#include <string>

#include "diffnorm/norm.h"
#include "models/activation_capture.h"
#include "nn/module_path.h"
#include "ops/activations.h"

namespace diffnorm::models {

class GroupNorm {
 public:
  GroupNorm(const nn::ModulePath& p, int64_t channels, int64_t groups, float eps)
      : gamma_(p.param("weight", {channels})), beta_(p.param("bias", {channels})), groups_(groups), eps_(eps) {}

  Tensor forward(const Tensor& x, Activation act = Activation::None) const {
    NormParams params;
    params.gamma = gamma_;
    params.beta = beta_;
    params.activation = act;
    return group_norm(x, Layout::NHWC, groups_, eps_, params).y;
  }

  /// GroupNorm then SiLU, fused; with a capture the GroupNorm output is recorded under
  /// `path` before the SiLU (where the reference's hooks see it), at the cost of a pass.
  Tensor forward_silu(const Tensor& x, const ActivationCapture* capture, const std::string& path) const {
    if (!capture) return forward(x, Activation::SiLU);
    Tensor h = forward(x);
    capture->image(path, h);
    ops::silu(h, h);
    return h;
  }

 private:
  Tensor gamma_, beta_;
  int64_t groups_;
  float eps_;
};

}  // namespace diffnorm::models
