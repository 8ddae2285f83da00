#include "models/transformer_2d_model.h"

#include "core/check.h"
#include "ops/elementwise_add.h"

namespace diffnorm::models {

Transformer2DModel::Transformer2DModel(const nn::ModulePath& p, const Transformer2DOptions& o)
    : path_(p.path()), o_(o), norm_(p / "norm", o.channels, o.groups, 1e-6f) {
  DN_CHECK(o.heads > 0 && o.channels % o.heads == 0, "{}: {} attention heads do not divide {} channels", p.path(),
           o.heads, o.channels);
  const int64_t c = o.channels;
  if (o.use_linear_projection) {
    proj_in_linear_.emplace(p / "proj_in", c, c);
  } else {
    proj_in_conv_.emplace(p / "proj_in", c, c, 1, ops::Conv2dOptions::symmetric(0));
  }
  for (int64_t i = 0; i < o.layers; ++i)
    blocks_.emplace_back(p / "transformer_blocks" / i, c, o.heads, c / o.heads, o.cross_attention_dim);
  if (o.use_linear_projection) {
    proj_out_linear_.emplace(p / "proj_out", c, c);
  } else {
    proj_out_conv_.emplace(p / "proj_out", c, c, 1, ops::Conv2dOptions::symmetric(0));
  }
}

Tensor Transformer2DModel::forward(const Tensor& x, const Tensor& context, const ActivationCapture* capture) const {
  const std::string& p = path_;
  const int64_t b = x.size(0), c = x.size(3), hw = x.size(1) * x.size(2);
  Tensor h = norm_.forward(x);
  if (capture) capture->image(p + ".norm", h);
  if (proj_in_conv_) {
    h = proj_in_conv_->forward(h);
    if (capture) capture->image(p + ".proj_in", h);
    h = h.reshape({b, hw, c});
  } else {
    h = proj_in_linear_->forward(h.reshape({b, hw, c}));
    if (capture) capture->tokens(p + ".proj_in", h);
  }
  for (const BasicTransformerBlock& block : blocks_) h = block.forward(h, context, capture);
  Tensor y;
  if (proj_out_conv_) {
    // y = x + proj_out(h): the conv accumulates into a copy of the residual.
    y = x.clone();
    const Tensor h_img = h.reshape(x.shape());
    if (capture) {
      const Tensor proj = proj_out_conv_->forward(h_img);
      capture->image(p + ".proj_out", proj);
      ops::add_inplace(y, proj);
    } else {
      proj_out_conv_->forward_accumulate(h_img, y);
    }
  } else {
    h = proj_out_linear_->forward(h);
    if (capture) capture->tokens(p + ".proj_out", h);
    y = h.reshape(x.shape());
    ops::add_inplace(y, x);
  }
  if (capture) capture->image(p, y);
  return y;
}

}  // namespace diffnorm::models
