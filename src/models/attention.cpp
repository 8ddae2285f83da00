#include "models/attention.h"

#include "ops/attention.h"
#include "ops/elementwise_add.h"

namespace diffnorm::models {

Attention::Attention(const nn::ModulePath& p, const AttentionOptions& o)
    : path_(p.path()),
      o_(o),
      to_q_(p / "to_q", o.query_dim, o.heads * o.dim_head, o.qkv_bias),
      to_k_(p / "to_k", o.context_dim > 0 ? o.context_dim : o.query_dim, o.heads * o.dim_head, o.qkv_bias),
      to_v_(p / "to_v", o.context_dim > 0 ? o.context_dim : o.query_dim, o.heads * o.dim_head, o.qkv_bias),
      to_out_(p / "to_out" / 0, o.heads * o.dim_head, o.query_dim) {
  if (o.norm_groups > 0) group_norm_.emplace(p / "group_norm", o.query_dim, o.norm_groups, o.norm_eps);
}

Tensor Attention::forward(const Tensor& x, const Tensor& context, const ActivationCapture* capture) const {
  const int64_t b = x.size(0), c = x.size(-1), t = x.numel() / (b * c);
  const Tensor tokens = x.reshape({b, t, c});
  Tensor h = tokens;
  if (group_norm_) {
    h = group_norm_->forward(tokens);
    // The reference normalises [B, C, HW]: hand that layout over.
    if (capture) capture->tokens(path_ + ".group_norm", h.permute({0, 2, 1}).contiguous());
  }
  const Tensor& ctx = context.defined() && context.numel() > 0 ? context : h;
  const Tensor q = to_q_.forward(h), k = to_k_.forward(ctx), v = to_v_.forward(ctx);
  if (capture) {
    capture->tokens(path_ + ".to_q", q);
    capture->tokens(path_ + ".to_k", k);
    capture->tokens(path_ + ".to_v", v);
  }
  Tensor out = to_out_.forward(ops::attention(q, k, v, {o_.heads, /*causal=*/false}));
  if (capture) capture->tokens(path_ + ".to_out.0", out);
  if (o_.residual_connection) ops::add_inplace(out, tokens);
  return out.reshape(x.shape());
}

}  // namespace diffnorm::models
