#include "models/autoencoder_kl.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "nn/component.h"

namespace diffnorm::models {

AutoencoderKL::AutoencoderKL(nn::WeightSource& weights, const AutoencoderKLConfig& c)
    : config_(c),
      encoder_(nn::ModulePath(weights) / "encoder", c),
      decoder_(nn::ModulePath(weights) / "decoder", c),
      quant_conv_(nn::ModulePath(weights) / "quant_conv", 2 * c.latent_channels, 2 * c.latent_channels, 1,
                  ops::Conv2dOptions::symmetric(0)),
      post_quant_conv_(nn::ModulePath(weights) / "post_quant_conv", c.latent_channels, c.latent_channels, 1,
                       ops::Conv2dOptions::symmetric(0)) {
  weights.check_all_used();
}

AutoencoderKL AutoencoderKL::load(const std::string& dir) {
  nn::Component comp = nn::open_component(dir);
  return AutoencoderKL(*comp.weights, AutoencoderKLConfig::from(comp.config));
}

LatentDistribution AutoencoderKL::encode(const Tensor& image, const ActivationCapture* capture) const {
  const AutoencoderKLConfig& c = config_;
  const int64_t factor = int64_t(1) << (c.levels() - 1);
  DN_CHECK(image.dim() == 4 && image.size(3) == c.in_channels, "VAE encode: image must be NHWC [N, H, W, {}], got {}",
           c.in_channels, image.describe());
  DN_CHECK(image.size(1) % factor == 0 && image.size(2) % factor == 0,
           "VAE encode: image height and width ({}x{}) must be multiples of {}", image.size(1), image.size(2), factor);
  LatentDistribution d;
  d.moments = quant_conv_.forward(encoder_.forward(image.to(DType::F32), capture));
  if (capture) capture->image("quant_conv", d.moments);
  const int64_t n = d.moments.size(0), h = d.moments.size(1), w = d.moments.size(2), l = c.latent_channels;
  d.mean = Tensor::empty({n, h, w, l});
  d.logvar = Tensor::empty({n, h, w, l});
  d.std = Tensor::empty({n, h, w, l});
  const float* m = d.moments.data<float>();
  float* mean = d.mean.data<float>();
  float* logvar = d.logvar.data<float>();
  float* std = d.std.data<float>();
  for (int64_t p = 0; p < n * h * w; ++p)
    for (int64_t k = 0; k < l; ++k) {
      mean[p * l + k] = m[p * 2 * l + k];
      const float lv = std::clamp(m[p * 2 * l + l + k], -30.0f, 20.0f);
      logvar[p * l + k] = lv;
      std[p * l + k] = std::exp(0.5f * lv);
    }
  return d;
}

Tensor AutoencoderKL::decode(const Tensor& z, const ActivationCapture* capture) const {
  DN_CHECK(z.dim() == 4 && z.size(3) == config_.latent_channels, "VAE decode: z must be NHWC [N, h, w, {}], got {}",
           config_.latent_channels, z.describe());
  const Tensor h = post_quant_conv_.forward(z.to(DType::F32));
  if (capture) capture->image("post_quant_conv", h);
  return decoder_.forward(h, capture);
}

}  // namespace diffnorm::models
