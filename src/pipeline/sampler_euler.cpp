#include "pipeline/sampler_euler.h"

#include "pipeline/sampler_ops.h"

namespace diffnorm {

Tensor EulerSampler::step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator& generator) {
  const float sigma = sigma_now();  // sigma_hat = sigma * (gamma + 1) with gamma = 0
  generator.randn(model_output.shape());  // the churn noise diffusers draws and does not use
  const Tensor x0 = predicted_original(model_output, sample, sigma);
  const float dt = sigmas_[step_index_ + 1] - sigma;
  return sampler_ops::map(sample, x0, [=](float x, float x0v) {
    const float derivative = (x - x0v) / sigma;
    return x + derivative * dt;
  });
}

}  // namespace diffnorm
