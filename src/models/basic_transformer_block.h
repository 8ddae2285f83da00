// BasicTransformerBlock (diffusers), tokens [B, T, C]:
//   x += attn1(norm1(x))               self-attention
//   x += attn2(norm2(x), context)      cross-attention
//   x += ff(norm3(x))                  GEGLU: ff.net.2( a · GELU(g) ), [a | g] = ff.net.0.proj(x)
// LayerNorms have eps 1e-5; attention projections have no bias, to_out has one.
#pragma once

#include <string>

#include "models/attention.h"
#include "models/layer_norm.h"

namespace diffnorm::models {

class BasicTransformerBlock {
 public:
  BasicTransformerBlock(const nn::ModulePath& p, int64_t dim, int64_t heads, int64_t dim_head,
                        int64_t cross_attention_dim);
  Tensor forward(const Tensor& x, const Tensor& context, const ActivationCapture* capture) const;

 private:
  std::string path_;
  LayerNorm norm1_, norm2_, norm3_;
  Attention attn1_, attn2_;
  Linear ff_in_, ff_out_;
};

}  // namespace diffnorm::models
