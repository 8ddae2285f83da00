#include "pipeline/default_model.h"

#include "nn/weight_source.h"

namespace diffnorm {

PipelineModels make_default_pipeline(uint64_t weight_seed) {
  models::CLIPTextConfig text = models::CLIPTextConfig::vit_l14();
  text.hidden_size = 32;
  text.intermediate_size = 128;
  text.projection_dim = 32;
  text.num_hidden_layers = 4;
  text.num_attention_heads = 4;

  models::UNet2DConditionConfig unet = models::UNet2DConditionConfig::sd15();
  unet.block_out_channels = {16, 32, 64, 64};
  unet.num_attention_heads = {2, 2, 2, 2};
  unet.norm_num_groups = 8;
  unet.cross_attention_dim = text.hidden_size;
  unet.sample_size = 32;  // 256x256 images by default

  models::AutoencoderKLConfig vae = models::AutoencoderKLConfig::sd();
  vae.block_out_channels = {16, 32, 64, 64};
  vae.layers_per_block = 1;
  vae.norm_num_groups = 8;

  PipelineModels m;
  m.kind = PipelineKind::SD;
  m.name = "diffnorm-default-random";
  // Separate streams per component, so the keys they share ("conv_in.weight") differ.
  nn::RandomWeights text_weights(weight_seed * 3 + 1), unet_weights(weight_seed * 3 + 2), vae_weights(weight_seed * 3 + 3);
  m.text_encoder = std::make_unique<TextEncoderSlot>(TextEncoderSlot{ClipTokenizer(), nullptr});
  m.text_encoder->model = std::make_unique<models::CLIPTextModel>(text_weights, text);
  m.unet = std::make_unique<models::UNet2DConditionModel>(unet_weights, unet);
  m.vae = std::make_unique<models::AutoencoderKL>(vae_weights, vae);
  m.default_sampler = "euler_ancestral";  // A1111's default sampler
  return m;
}

}  // namespace diffnorm
