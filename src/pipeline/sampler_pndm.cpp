#include "pipeline/sampler_pndm.h"

#include <algorithm>
#include <cmath>

#include "pipeline/sampler_ddim.h"
#include "pipeline/sampler_ops.h"

namespace diffnorm {

PndmSampler::PndmSampler(const NoiseScheduleConfig& config) : Sampler("pndm", config) {
  check_prediction_type_supported();
}

void PndmSampler::compute_schedule(int n) {
  std::vector<double> t = alpha_sampler_timesteps_descending(config(), n);
  if (t.size() >= 2) t.insert(t.begin() + 1, t[1]);  // PLMS warm-up repeats the second timestep
  timesteps_ = std::move(t);
}

void PndmSampler::clear_history() {
  ets_.clear();
  cur_sample_ = Tensor();
  counter_ = 0;
}

Tensor PndmSampler::previous_sample(const Tensor& sample, int t, int prev_t, const Tensor& model_output) const {
  const std::vector<float>& ac = schedule_.alphas_cumprod();
  const float alpha_t = ac[t];
  const float alpha_prev = prev_t >= 0 ? ac[prev_t] : (config().set_alpha_to_one ? 1.0f : ac[0]);
  const float beta_t = 1.0f - alpha_t, beta_prev = 1.0f - alpha_prev;
  Tensor eps = model_output;
  if (config().prediction_type == PredictionType::VPrediction) {
    const float sa = std::sqrt(alpha_t), sb = std::sqrt(beta_t);
    eps = sampler_ops::map(model_output, sample, [=](float v, float x) { return sa * v + sb * x; });
  }
  const float sample_coef = std::sqrt(alpha_prev / alpha_t);
  const float denom = alpha_t * std::sqrt(beta_prev) + std::sqrt(alpha_t * beta_t * alpha_prev);
  const float diff = alpha_prev - alpha_t;
  return sampler_ops::map(sample, eps, [=](float x, float e) { return sample_coef * x - diff * e / denom; });
}

Tensor PndmSampler::step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator&) {
  const int ratio = schedule_.num_train_timesteps() / num_inference_steps_;
  int t = int(timesteps_[step_index_]);
  int prev_t = t - ratio;
  if (counter_ != 1) {
    while (ets_.size() > 3) ets_.pop_front();
    ets_.push_back(model_output);
  } else {
    // The repeated step: redo t0 -> t1 from the first sample with the averaged output.
    prev_t = t;
    t = t + ratio;
  }
  using sampler_ops::map;
  Tensor x = sample, e;
  const std::size_t n = ets_.size();
  if (n == 1 && counter_ == 0) {
    e = model_output;
    cur_sample_ = sample;
  } else if (n == 1 && counter_ == 1) {
    e = map(model_output, ets_.back(), [](float a, float b) { return (a + b) / 2.0f; });
    x = cur_sample_;
    cur_sample_ = Tensor();
  } else if (n == 2) {
    e = map(ets_[1], ets_[0], [](float e1, float e2) { return (3.0f * e1 - e2) / 2.0f; });
  } else if (n == 3) {
    e = map(ets_[2], ets_[1], ets_[0],
            [](float e1, float e2, float e3) { return (23.0f * e1 - 16.0f * e2 + 5.0f * e3) / 12.0f; });
  } else {
    const float one_24th = float(1.0 / 24.0);
    e = map(ets_[3], ets_[2], ets_[1], ets_[0], [=](float e1, float e2, float e3, float e4) {
      return one_24th * (55.0f * e1 - 59.0f * e2 + 37.0f * e3 - 9.0f * e4);
    });
  }
  ++counter_;
  return previous_sample(x, t, prev_t, e);
}

}  // namespace diffnorm
