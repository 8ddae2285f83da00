// BatchNorm (PyTorch semantics): training normalises with the batch statistics (biased
// variance) and updates the running statistics with the unbiased variance:
//   num_batches_tracked += 1;  f = momentum, or 1/num_batches_tracked when momentum is None
//   running_mean = (1 − f)·running_mean + f·mean;  running_var = (1 − f)·running_var + f·var·n/(n − 1)
// Eval with running statistics normalises with them (constants for the backward).
#include <cmath>

#include "core/check.h"
#include "diffnorm/norm.h"
#include "norm/engine.h"

namespace diffnorm {
using namespace norm_detail;

static NormSpec batch_spec(const NormShape& shape, float eps) {
  NormSpec spec;
  spec.shape = shape;
  spec.reduce = Reduce::Channel;
  spec.eps = eps;
  return spec;
}

void batch_norm_forward(const NormShape& shape, const BatchNormOptions& options, RunningStats running,
                        const ForwardIO& io, Arena& arena) {
  const NormSpec spec = batch_spec(shape, options.eps);
  spec.validate();
  const int64_t C = shape.c;
  ForwardIO out = io;
  if (!out.mean) out.mean = arena.allocate_array<float>(size_t(C));
  if (!out.rstd) out.rstd = arena.allocate_array<float>(size_t(C));
  if (!options.training && running.tracked()) {
    for (int64_t c = 0; c < C; ++c) {
      out.mean[c] = running.mean[c];
      out.rstd[c] = float(1.0 / std::sqrt(double(running.var[c]) + double(options.eps)));
    }
    norm_apply(spec, out, arena);
    return;
  }
  const double n = double(shape.n * shape.s);
  DN_CHECK(!(options.training && n <= 1), "batch_norm: training needs more than 1 value per channel, got input {}",
           fmt::format("N={} C={} S={}", shape.n, shape.c, shape.s));
  if (!(options.training && running.tracked())) return forward_observing_moments(spec, out, {}, arena);
  forward_observing_moments(
      spec, out,
      [&](const Moments* stats) {  // the running statistics change only once x has been read
        int64_t tracked = 1;
        if (running.num_batches_tracked) tracked = ++*running.num_batches_tracked;
        const double f = options.momentum ? double(*options.momentum) : 1.0 / double(tracked);
        for (int64_t c = 0; c < C; ++c) {
          const double unbiased = stats[c].m2 / (n - 1);
          running.mean[c] = float((1 - f) * running.mean[c] + f * stats[c].mean);
          running.var[c] = float((1 - f) * running.var[c] + f * unbiased);
        }
      },
      arena);
}

void batch_norm_backward(const NormShape& shape, const BatchNormOptions& options, bool running_tracked,
                         const BackwardIO& io, Arena& arena) {
  norm_backward(batch_spec(shape, options.eps), io, !options.training && running_tracked, arena);
}

void reset_running_stats(RunningStats running, int64_t channels) {
  DN_CHECK(running.tracked(), "reset_running_stats: running mean and var buffers are required");
  for (int64_t c = 0; c < channels; ++c) {
    running.mean[c] = 0.0f;
    running.var[c] = 1.0f;
  }
  if (running.num_batches_tracked) *running.num_batches_tracked = 0;
}

}  // namespace diffnorm
