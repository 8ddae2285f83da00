#include "models/unet_2d_condition_model.h"

#include <cstring>

#include "core/check.h"
#include "nn/component.h"
#include "ops/activations.h"
#include "ops/elementwise_add.h"
#include "ops/timestep_embedding.h"

namespace diffnorm::models {

namespace {

Transformer2DOptions transformer_options(const UNet2DConditionConfig& c, int64_t level) {
  Transformer2DOptions t;
  t.heads = c.num_attention_heads[level];
  t.layers = c.transformer_layers_per_block[level];
  t.cross_attention_dim = c.cross_attention_dim;
  t.groups = c.norm_num_groups;
  t.use_linear_projection = c.use_linear_projection;
  return t;
}

}  // namespace

UNet2DConditionModel::UNet2DConditionModel(nn::WeightSource& weights, const UNet2DConditionConfig& c)
    : config_(c),
      time_embedding_(nn::ModulePath(weights) / "time_embedding", c.block_out_channels[0], c.time_embed_dim()),
      conv_in_(nn::ModulePath(weights) / "conv_in", c.in_channels, c.block_out_channels[0], 3,
               ops::Conv2dOptions::symmetric(1)),
      conv_norm_out_(nn::ModulePath(weights) / "conv_norm_out", c.block_out_channels[0], c.norm_num_groups,
                     float(c.norm_eps)),
      conv_out_(nn::ModulePath(weights) / "conv_out", c.block_out_channels[0], c.out_channels, 3,
                ops::Conv2dOptions::symmetric(1)) {
  const nn::ModulePath root(weights);
  const int64_t levels = c.levels();
  if (c.addition_embed_type)
    add_embedding_.emplace(root / "add_embedding", c.projection_class_embeddings_input_dim, c.time_embed_dim());

  int64_t out = c.block_out_channels[0];
  for (int64_t i = 0; i < levels; ++i) {
    UNetBlockOptions o;
    o.in_channels = out;
    o.out_channels = out = c.block_out_channels[i];
    o.temb_channels = c.time_embed_dim();
    o.layers = c.layers_per_block;
    o.cross_attention = c.down_block_types[i] == "CrossAttnDownBlock2D";
    o.transformer = transformer_options(c, i);
    o.groups = c.norm_num_groups;
    o.eps = float(c.norm_eps);
    o.resample = i + 1 < levels;
    o.downsample_padding = c.downsample_padding;
    down_blocks_.emplace_back(root / "down_blocks" / i, o);
  }

  ResnetBlock2DOptions mid;
  mid.in_channels = mid.out_channels = c.block_out_channels.back();
  mid.temb_channels = c.time_embed_dim();
  mid.groups = c.norm_num_groups;
  mid.eps = float(c.norm_eps);
  mid.output_scale_factor = float(c.mid_block_scale_factor);
  Transformer2DOptions mid_t = transformer_options(c, levels - 1);
  mid_t.channels = mid.out_channels;
  mid_block_.emplace(root / "mid_block", mid, mid_t);

  // Up block i works at level L-1-i: per-level settings reversed.
  int64_t prev = c.block_out_channels.back();
  for (int64_t i = 0; i < levels; ++i) {
    const int64_t level = levels - 1 - i;
    UNetBlockOptions o;
    o.prev_output_channels = prev;
    o.out_channels = prev = c.block_out_channels[level];
    o.in_channels = c.block_out_channels[std::max<int64_t>(level - 1, 0)];
    o.temb_channels = c.time_embed_dim();
    o.layers = c.layers_per_block + 1;
    o.cross_attention = c.up_block_types[i] == "CrossAttnUpBlock2D";
    o.transformer = transformer_options(c, level);
    o.groups = c.norm_num_groups;
    o.eps = float(c.norm_eps);
    o.resample = i + 1 < levels;
    up_blocks_.emplace_back(root / "up_blocks" / i, o);
  }
  weights.check_all_used();
}

UNet2DConditionModel UNet2DConditionModel::load(const std::string& dir) {
  nn::Component comp = nn::open_component(dir);
  return UNet2DConditionModel(*comp.weights, UNet2DConditionConfig::from(comp.config));
}

Tensor UNet2DConditionModel::embedding(int64_t batch, const Tensor& timestep, const UNetAddedCond& added,
                                       const ActivationCapture* capture) const {
  const UNet2DConditionConfig& c = config_;
  DN_CHECK(timestep.numel() == batch || timestep.numel() == 1, "UNet: timestep {} does not match batch {}",
           timestep.describe(), batch);
  // Schedulers hand over float32, float64 or int64 timesteps; the embedding is float32.
  Tensor t = Tensor::empty({batch});
  for (int64_t b = 0; b < batch; ++b) t.data<float>()[b] = float(timestep.item(timestep.numel() == 1 ? 0 : b));

  const Tensor t_emb = ops::timestep_embedding(t, c.block_out_channels[0], {c.flip_sin_to_cos, c.freq_shift});
  if (capture) capture->tokens("time_proj", t_emb);
  Tensor emb = time_embedding_.forward(t_emb);
  if (capture) capture->tokens("time_embedding", emb);

  if (add_embedding_) {
    const Tensor& te = added.text_embeds;
    const Tensor& ids = added.time_ids;
    DN_CHECK(te.defined() && ids.defined() && te.numel() > 0 && ids.numel() > 0,
             "UNet: addition_embed_type \"text_time\" needs text_embeds and time_ids");
    DN_CHECK(te.dim() == 2 && te.size(0) == batch && ids.dim() == 2 && ids.size(0) == batch,
             "UNet: text_embeds {} and time_ids {} must be [B, *] with B = {}", te.describe(), ids.describe(), batch);
    const int64_t d = c.addition_time_embed_dim, n_ids = ids.size(1);
    DN_CHECK(te.size(1) + n_ids * d == c.projection_class_embeddings_input_dim,
             "UNet: text_embeds width {} + {} time ids x {} != projection_class_embeddings_input_dim {}", te.size(1),
             n_ids, d, c.projection_class_embeddings_input_dim);
    const Tensor time_proj = ops::timestep_embedding(ids.to(DType::F32).reshape({-1}), d, {c.flip_sin_to_cos, c.freq_shift});
    if (capture) capture->tokens("add_time_proj", time_proj);
    // [text_embeds | time embeddings of the ids in order], text_embeds first.
    Tensor add_in = Tensor::empty({batch, c.projection_class_embeddings_input_dim});
    const Tensor tec = te.to(DType::F32);
    for (int64_t b = 0; b < batch; ++b) {
      float* row = add_in.data<float>() + b * add_in.size(1);
      std::memcpy(row, tec.data<float>() + b * te.size(1), std::size_t(te.size(1)) * sizeof(float));
      std::memcpy(row + te.size(1), time_proj.data<float>() + b * n_ids * d, std::size_t(n_ids * d) * sizeof(float));
    }
    const Tensor aug = add_embedding_->forward(add_in);
    if (capture) capture->tokens("add_embedding", aug);
    ops::add_inplace(emb, aug);
  }
  if (capture) capture->tokens("emb", emb);
  return emb;
}

Tensor UNet2DConditionModel::forward(const Tensor& sample, const Tensor& timestep, const Tensor& context,
                                     const UNetAddedCond& added, const ActivationCapture* capture) const {
  const UNet2DConditionConfig& c = config_;
  DN_CHECK(sample.dim() == 4 && sample.size(3) == c.in_channels, "UNet: sample must be NHWC [B, H, W, {}], got {}",
           c.in_channels, sample.describe());
  const int64_t batch = sample.size(0);
  DN_CHECK(context.dim() == 3 && context.size(0) == batch && context.size(2) == c.cross_attention_dim,
           "UNet: encoder_hidden_states must be [{}, S, {}], got {}", batch, c.cross_attention_dim, context.describe());

  const Tensor emb = embedding(batch, timestep, added, capture);
  const Tensor temb_act = ops::silu(emb);
  const Tensor ctx = context.to(DType::F32);

  Tensor h = conv_in_.forward(sample.to(DType::F32));
  if (capture) capture->image("conv_in", h);
  std::vector<Tensor> skips{h};
  for (const UNetDownBlock& block : down_blocks_) h = block.forward(h, temb_act, ctx, skips, capture);
  if (capture)
    for (std::size_t i = 0; i < skips.size(); ++i) capture->image("skip." + std::to_string(i), skips[i]);
  h = mid_block_->forward(h, temb_act, ctx, capture);
  for (const UNetUpBlock& block : up_blocks_) h = block.forward(h, temb_act, ctx, skips, capture);

  h = conv_norm_out_.forward_silu(h, capture, "conv_norm_out");
  h = conv_out_.forward(h);
  if (capture) capture->image("conv_out", h);
  return h;
}

}  // namespace diffnorm::models
