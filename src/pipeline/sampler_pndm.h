// PNDM with skip_prk_steps = pseudo linear multistep (PLMS, Liu et al. 2022), diffusers'
// PNDMScheduler (the SD1.5 default). Timesteps as DDIM's with the second one repeated
// ([t0, t1, t1, t2, ...]); the model outputs e_k are combined Adams-Bashforth style:
//   1st call: e0;  2nd (same step redone from x at t0): (e + e0) / 2;  then
//   (3 e_{-1} - e_{-2}) / 2,  (23 e_{-1} - 16 e_{-2} + 5 e_{-3}) / 12,
//   (55 e_{-1} - 59 e_{-2} + 37 e_{-3} - 9 e_{-4}) / 24,
// and x moves from t to t' = t - T // n with the PNDM transfer (eq. 11 of the paper):
//   x' = sqrt(a'/a) x - (a' - a) e / (a sqrt(1 - a') + sqrt(a (1 - a) a')).
#pragma once

#include <deque>

#include "pipeline/sampler.h"

namespace diffnorm {

class PndmSampler : public Sampler {
 public:
  explicit PndmSampler(const NoiseScheduleConfig& config);

 protected:
  void compute_schedule(int n) override;
  void clear_history() override;
  Tensor step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator& generator) override;

 private:
  Tensor previous_sample(const Tensor& sample, int t, int prev_t, const Tensor& model_output) const;

  std::deque<Tensor> ets_;  // recent model outputs, oldest first (at most 4)
  Tensor cur_sample_;       // the sample the first step started from
  int counter_ = 0;
};

}  // namespace diffnorm
