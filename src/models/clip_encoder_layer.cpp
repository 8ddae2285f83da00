#include "models/clip_encoder_layer.h"

#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/elementwise_add.h"

namespace diffnorm::models {

CLIPEncoderLayer::CLIPEncoderLayer(const nn::ModulePath& p, const CLIPTextConfig& c)
    : path_(p.path()),
      heads_(c.num_attention_heads),
      gelu_(c.hidden_act == "gelu"),
      layer_norm1_(p / "layer_norm1", c.hidden_size, float(c.layer_norm_eps)),
      layer_norm2_(p / "layer_norm2", c.hidden_size, float(c.layer_norm_eps)),
      q_proj_(p / "self_attn" / "q_proj", c.hidden_size, c.hidden_size),
      k_proj_(p / "self_attn" / "k_proj", c.hidden_size, c.hidden_size),
      v_proj_(p / "self_attn" / "v_proj", c.hidden_size, c.hidden_size),
      out_proj_(p / "self_attn" / "out_proj", c.hidden_size, c.hidden_size),
      fc1_(p / "mlp" / "fc1", c.hidden_size, c.intermediate_size),
      fc2_(p / "mlp" / "fc2", c.intermediate_size, c.hidden_size) {}

Tensor CLIPEncoderLayer::forward(const Tensor& x, const ActivationCapture* capture) const {
  const std::string& p = path_;
  const Tensor n1 = layer_norm1_.forward(x);
  if (capture) capture->tokens(p + ".layer_norm1", n1);
  // The kernel applies head_dim^-0.5 to the scores (transformers scales q: same up to rounding).
  const Tensor a = out_proj_.forward(ops::attention(q_proj_.forward(n1), k_proj_.forward(n1), v_proj_.forward(n1),
                                                    {heads_, /*causal=*/true}));
  if (capture) capture->tokens(p + ".self_attn", a);
  Tensor h = x.clone();
  ops::add_inplace(h, a);

  const Tensor n2 = layer_norm2_.forward(h);
  if (capture) capture->tokens(p + ".layer_norm2", n2);
  Tensor f = fc1_.forward(n2);
  if (capture) capture->tokens(p + ".mlp.fc1", f);
  if (gelu_) ops::gelu(f, f);
  else ops::quick_gelu(f, f);
  if (capture) capture->tokens(p + ".mlp.activation_fn", f);
  const Tensor m = fc2_.forward(f);
  if (capture) capture->tokens(p + ".mlp", m);
  ops::add_inplace(h, m);
  if (capture) capture->tokens(p, h);
  return h;
}

}  // namespace diffnorm::models
