#include "pipeline/sampler_lms.h"

#include <algorithm>
#include <cmath>

#include "pipeline/sampler_ops.h"

namespace diffnorm {

namespace {

// QUADPACK dqk21: 21-point Kronrod abscissae (xgk, symmetric, the last is the centre) and
// weights (wgk), and the 10-point Gauss weights (wg) of the even abscissae.
constexpr double kXgk[11] = {0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
                             0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
                             0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
                             0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
                             0.294392862701460198131126603103866, 0.148874338981631210884826001129720,
                             0.0};
constexpr double kWgk[11] = {0.011694638867371874278064396062192, 0.032558162307964727478818972459390,
                             0.054755896574351996031381300244580, 0.075039674810919952767043140916190,
                             0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
                             0.123491976262065851077958109831074, 0.134709217311473325928054001771707,
                             0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
                             0.149445554002916905664936468389821};

// The 21-point Kronrod estimate of the integral of f over [a, b], summed in dqk21's order
// (centre, then the Gauss abscissae, then the Kronrod-only ones).
template <class F>
double gauss_kronrod_21(F f, double a, double b) {
  const double centre = 0.5 * (a + b), half_length = 0.5 * (b - a);
  double resk = kWgk[10] * f(centre);
  for (int j = 1; j <= 5; ++j) {
    const int jtw = 2 * j - 1;  // Fortran index 2j, zero-based
    const double absc = half_length * kXgk[jtw];
    resk = resk + kWgk[jtw] * (f(centre - absc) + f(centre + absc));
  }
  for (int j = 1; j <= 5; ++j) {
    const int jtwm1 = 2 * j - 2;  // Fortran index 2j - 1, zero-based
    const double absc = half_length * kXgk[jtwm1];
    resk = resk + kWgk[jtwm1] * (f(centre - absc) + f(centre + absc));
  }
  return resk * half_length;
}

}  // namespace

double LmsSampler::lms_coefficient(int order, int t, int current_order) const {
  // Lagrange basis in float32 tensor arithmetic: prod_k (float(tau) - s_{t-k}) / (s_{t-c} - s_{t-k}).
  auto basis = [&](double tau) -> double {
    float prod = 1.0f;
    for (int k = 0; k < order; ++k) {
      if (k == current_order) continue;
      prod *= (float(tau) - sigmas_[t - k]) / (sigmas_[t - current_order] - sigmas_[t - k]);
    }
    return prod;
  };
  return gauss_kronrod_21(basis, sigmas_[t], sigmas_[t + 1]);
}

Tensor LmsSampler::step_impl(const Tensor& model_output, const Tensor& sample, TorchGenerator&) {
  const float sigma = sigma_now();
  const Tensor x0 = predicted_original(model_output, sample, sigma);
  derivatives_.push_back(sampler_ops::map(sample, x0, [=](float x, float x0v) { return (x - x0v) / sigma; }));
  if (int(derivatives_.size()) > kOrder) derivatives_.pop_front();
  const int order = std::min(step_index_ + 1, kOrder);
  // x + (c_0 d_i + c_1 d_{i-1} + ...), the sum accumulated left to right in float32 with each
  // float64 coefficient rounded to float32 (torch's scalar * tensor). After a start in the
  // middle of the schedule fewer derivatives than `order` exist; like diffusers' zip(), only
  // those are used.
  const int terms = std::min<int>(order, int(derivatives_.size()));
  Tensor sum;
  for (int k = 0; k < terms; ++k) {
    const float c = float(lms_coefficient(order, step_index_, k));
    const Tensor& d = derivatives_[derivatives_.size() - 1 - k];
    sum = k == 0 ? sampler_ops::map(d, [c](float v) { return c * v; })
                 : sampler_ops::map(sum, d, [c](float acc, float v) { return acc + c * v; });
  }
  return sampler_ops::map(sample, sum, [](float x, float s) { return x + s; });
}

}  // namespace diffnorm
