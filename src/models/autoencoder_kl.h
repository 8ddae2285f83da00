// AutoencoderKL (diffusers 0.23), NHWC inside:
//   encode: moments = quant_conv(encoder(x)) = [mean | logvar_raw] on channels;
//           logvar = clamp(logvar_raw, -30, 20), std = exp(logvar / 2)
//   decode: x = decoder(post_quant_conv(z))   (z unscaled: pipelines pass latents / scaling_factor)
#pragma once

#include "models/activation_capture.h"
#include "models/autoencoder_kl_config.h"
#include "models/vae_decoder.h"
#include "models/vae_encoder.h"
#include "nn/weight_source.h"

namespace diffnorm::models {

/// The encoder's diagonal Gaussian posterior, NHWC [N, h, w, latent] each.
struct LatentDistribution {
  Tensor moments;  // [N, h, w, 2·latent]
  Tensor mean, logvar, std;
};

class AutoencoderKL {
 public:
  /// Binds every weight of `config` from `weights` (which must hold nothing else).
  AutoencoderKL(nn::WeightSource& weights, const AutoencoderKLConfig& config);
  static AutoencoderKL load(const std::string& dir);

  /// image NHWC [N, H, W, in_channels] in [-1, 1]; H and W multiples of 2^(levels-1).
  LatentDistribution encode(const Tensor& image, const ActivationCapture* capture = nullptr) const;
  /// z NHWC [N, h, w, latent] -> image NHWC [N, h·f, w·f, out_channels] (not clamped).
  Tensor decode(const Tensor& z, const ActivationCapture* capture = nullptr) const;
  const AutoencoderKLConfig& config() const { return config_; }

 private:
  AutoencoderKLConfig config_;
  Encoder encoder_;
  Decoder decoder_;
  Conv2d quant_conv_, post_quant_conv_;
};

}  // namespace diffnorm::models
