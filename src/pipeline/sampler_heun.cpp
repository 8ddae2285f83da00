#include "pipeline/sampler_heun.h"

#include "pipeline/sampler_ops.h"

namespace diffnorm {

void HeunSampler::compute_schedule(int n) {
  SigmaSampler::compute_schedule(n);
  // [t0, t1, t1, ..., t_{n-1}, t_{n-1}] and [s0, s1, s1, ..., s_{n-1}, s_{n-1}, 0].
  std::vector<double> t{timesteps_.front()};
  for (std::size_t i = 1; i < timesteps_.size(); ++i) t.insert(t.end(), 2, timesteps_[i]);
  std::vector<float> s{sigmas_.front()};
  for (std::size_t i = 1; i + 1 < sigmas_.size(); ++i) s.insert(s.end(), 2, sigmas_[i]);
  s.push_back(sigmas_.back());
  timesteps_ = std::move(t);
  sigmas_ = std::move(s);
}

void HeunSampler::clear_history() {
  dt_.reset();
  prev_derivative_ = Tensor();
  first_order_sample_ = Tensor();
}

Tensor HeunSampler::step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator&) {
  if (!dt_) {
    const float sigma = sigmas_[step_index_], sigma_next = sigmas_[step_index_ + 1];
    const Tensor x0 = predicted_original(model_output, sample, sigma);
    const float dt = sigma_next - sigma;
    const Tensor derivative = sampler_ops::map(sample, x0, [=](float x, float x0v) { return (x - x0v) / sigma; });
    dt_ = dt;
    prev_derivative_ = derivative;
    first_order_sample_ = sample;
    return sampler_ops::map(sample, derivative, [=](float x, float d) { return x + d * dt; });
  }
  const float sigma_next = sigmas_[step_index_];
  const Tensor x0 = predicted_original(model_output, sample, sigma_next);
  const float dt = *dt_;
  const Tensor result = sampler_ops::map(
      first_order_sample_, prev_derivative_, sample, x0, [=](float x_first, float d_first, float x, float x0v) {
        const float d = (x - x0v) / sigma_next;
        const float d_mean = (d_first + d) / 2.0f;
        return x_first + d_mean * dt;
      });
  clear_history();
  return result;
}

}  // namespace diffnorm
