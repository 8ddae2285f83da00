// Named inputs and outputs of each network, as the reference fixtures and `diffnorm run`
// name them: inputs "in.*", outputs "out.*" (image-like tensors NCHW, tokens [B, T, C]).
#pragma once

#include <map>
#include <string>

#include "models/activation_capture.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_2d_condition_model.h"

namespace diffnorm::models {

using NamedTensors = std::map<std::string, Tensor>;

/// in.input_ids -> out.last_hidden_state, out.hidden_states.<i>, out.penultimate_hidden_state,
/// out.penultimate_final_ln, out.pooler_output, out.pooled_index, out.text_embeds (with projection).
NamedTensors run_text_encoder(const CLIPTextModel& model, const NamedTensors& in,
                              const ActivationCapture* capture = nullptr);
/// in.sample, in.timestep, in.encoder_hidden_states (+ in.text_embeds, in.time_ids for
/// addition_embed_type "text_time") -> out.sample.
NamedTensors run_unet(const UNet2DConditionModel& model, const NamedTensors& in,
                      const ActivationCapture* capture = nullptr);
/// in.image -> out.moments, out.latent_mean, out.latent_logvar, out.latent_std.
NamedTensors run_vae_encode(const AutoencoderKL& model, const NamedTensors& in,
                            const ActivationCapture* capture = nullptr);
/// in.z -> out.decoded.
NamedTensors run_vae_decode(const AutoencoderKL& model, const NamedTensors& in,
                            const ActivationCapture* capture = nullptr);

/// The tensor `name` of `in` (Error listing the names present when it is missing).
const Tensor& require_input(const NamedTensors& in, const std::string& name);

}  // namespace diffnorm::models
