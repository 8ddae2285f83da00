// Attention (diffusers' Attention processor AttnProcessor), on tokens [B, T, C]:
//   q = to_q(x), k = to_k(ctx), v = to_v(ctx)    (ctx = x for self-attention)
//   o = to_out.0( softmax(q_h k_hᵀ · d^-0.5) v_h  over heads h of size d )
// The VAE's mid-block form (single head, biases, GroupNorm inside, residual) is
// Attention with `group_norm` and `residual_connection` set; its input is NHWC.
#pragma once

#include <optional>
#include <string>

#include "models/activation_capture.h"
#include "models/group_norm.h"
#include "models/linear.h"

namespace diffnorm::models {

struct AttentionOptions {
  int64_t query_dim = 0;
  int64_t context_dim = 0;  // 0: self-attention (= query_dim)
  int64_t heads = 1;
  int64_t dim_head = 0;     // inner dim = heads · dim_head
  bool qkv_bias = false;
  int64_t norm_groups = 0;  // > 0: a GroupNorm(norm_groups, eps = norm_eps) named group_norm first
  float norm_eps = 1e-6f;
  bool residual_connection = false;
};

class Attention {
 public:
  Attention(const nn::ModulePath& p, const AttentionOptions& o);
  /// x [B, T, C] (or NHWC [B, H, W, C] with group_norm: the same memory as [B, HW, C]);
  /// context [B, S, context_dim] or undefined for self-attention. Returns x's shape.
  /// Captures to_q / to_k / to_v / to_out.0 and group_norm ([B, C, HW], as the reference).
  Tensor forward(const Tensor& x, const Tensor& context, const ActivationCapture* capture) const;

 private:
  std::string path_;
  AttentionOptions o_;
  std::optional<GroupNorm> group_norm_;
  Linear to_q_, to_k_, to_v_, to_out_;
};

}  // namespace diffnorm::models
