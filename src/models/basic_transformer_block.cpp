#include "models/basic_transformer_block.h"

#include "ops/activations.h"
#include "ops/elementwise_add.h"


namespace diffnorm::models {

namespace {

AttentionOptions attn_options(int64_t dim, int64_t context_dim, int64_t heads, int64_t dim_head) {
  AttentionOptions o;
  o.query_dim = dim;
  o.context_dim = context_dim;
  o.heads = heads;
  o.dim_head = dim_head;
  return o;
}

}  // namespace

BasicTransformerBlock::BasicTransformerBlock(const nn::ModulePath& p, int64_t dim, int64_t heads, int64_t dim_head,
                                             int64_t cross_attention_dim)
    : path_(p.path()),
      norm1_(p / "norm1", dim, 1e-5f),
      norm2_(p / "norm2", dim, 1e-5f),
      norm3_(p / "norm3", dim, 1e-5f),
      attn1_(p / "attn1", attn_options(dim, 0, heads, dim_head)),
      attn2_(p / "attn2", attn_options(dim, cross_attention_dim, heads, dim_head)),
      ff_in_(p / "ff" / "net" / 0 / "proj", dim, 8 * dim),
      ff_out_(p / "ff" / "net" / 2, 4 * dim, dim) {}

Tensor BasicTransformerBlock::forward(const Tensor& x, const Tensor& context, const ActivationCapture* capture) const {
  const std::string& p = path_;
  Tensor h = x.clone();

  Tensor n = norm1_.forward(h);
  if (capture) capture->tokens(p + ".norm1", n);
  Tensor a = attn1_.forward(n, Tensor(), capture);
  if (capture) capture->tokens(p + ".attn1", a);
  ops::add_inplace(h, a);

  n = norm2_.forward(h);
  if (capture) capture->tokens(p + ".norm2", n);
  a = attn2_.forward(n, context, capture);
  if (capture) capture->tokens(p + ".attn2", a);
  ops::add_inplace(h, a);

  n = norm3_.forward(h);
  if (capture) capture->tokens(p + ".norm3", n);
  a = ff_out_.forward(ops::geglu(ff_in_.forward(n)));
  if (capture) capture->tokens(p + ".ff", a);
  ops::add_inplace(h, a);
  if (capture) capture->tokens(p, h);
  return h;
}

}  // namespace diffnorm::models
