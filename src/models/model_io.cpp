#include "models/model_io.h"

#include "core/check.h"

namespace diffnorm::models {

namespace {

Tensor nchw_input(const NamedTensors& in, const std::string& name) {
  const Tensor& t = require_input(in, name);
  DN_CHECK(t.dim() == 4, "input {} must be NCHW [N, C, H, W], got {}", name, t.describe());
  return t.to(DType::F32).nchw_to_nhwc();
}

const Tensor* optional_input(const NamedTensors& in, const std::string& name) {
  auto it = in.find(name);
  return it == in.end() ? nullptr : &it->second;
}

}  // namespace

const Tensor& require_input(const NamedTensors& in, const std::string& name) {
  auto it = in.find(name);
  if (it != in.end()) return it->second;
  std::string present;
  for (const auto& [k, _] : in) present += (present.empty() ? "" : ", ") + k;
  fail("missing input tensor '{}' (inputs present: {})", name, present.empty() ? "none" : present);
}

NamedTensors run_text_encoder(const CLIPTextModel& model, const NamedTensors& in, const ActivationCapture* capture) {
  const CLIPTextOutput r = model.forward(require_input(in, "in.input_ids"), capture);
  NamedTensors out;
  const std::size_t layers = r.hidden_states.size() - 1;
  for (std::size_t i = 0; i < r.hidden_states.size(); ++i) out["out.hidden_states." + std::to_string(i)] = r.hidden_states[i];
  out["out.last_hidden_state"] = r.last_hidden_state;
  if (layers >= 1) {
    out["out.penultimate_hidden_state"] = r.hidden_states[layers - 1];
    out["out.penultimate_final_ln"] = model.final_layer_norm(r.hidden_states[layers - 1]);
  }
  out["out.pooler_output"] = r.pooler_output;
  out["out.pooled_index"] = r.pooled_index;
  if (r.text_embeds.defined() && r.text_embeds.numel() > 0) out["out.text_embeds"] = r.text_embeds;
  return out;
}

NamedTensors run_unet(const UNet2DConditionModel& model, const NamedTensors& in, const ActivationCapture* capture) {
  UNetAddedCond added;
  if (model.config().addition_embed_type) {
    added.text_embeds = require_input(in, "in.text_embeds");
    added.time_ids = require_input(in, "in.time_ids");
  } else {
    DN_CHECK(!optional_input(in, "in.text_embeds") && !optional_input(in, "in.time_ids"),
             "in.text_embeds / in.time_ids given, but this UNet has no addition_embed_type");
  }
  const Tensor y = model.forward(nchw_input(in, "in.sample"), require_input(in, "in.timestep"),
                                 require_input(in, "in.encoder_hidden_states"), added, capture);
  return {{"out.sample", y.nhwc_to_nchw()}};
}

NamedTensors run_vae_encode(const AutoencoderKL& model, const NamedTensors& in, const ActivationCapture* capture) {
  const LatentDistribution d = model.encode(nchw_input(in, "in.image"), capture);
  return {{"out.moments", d.moments.nhwc_to_nchw()},
          {"out.latent_mean", d.mean.nhwc_to_nchw()},
          {"out.latent_logvar", d.logvar.nhwc_to_nchw()},
          {"out.latent_std", d.std.nhwc_to_nchw()}};
}

NamedTensors run_vae_decode(const AutoencoderKL& model, const NamedTensors& in, const ActivationCapture* capture) {
  return {{"out.decoded", model.decode(nchw_input(in, "in.z"), capture).nhwc_to_nchw()}};
}

}  // namespace diffnorm::models
