// InstanceNorm (PyTorch semantics): statistics per (n, c) over S. With tracked running
// statistics, training updates them with the mean over n of the instance means and of
// the unbiased instance variances (momentum; num_batches_tracked untouched); eval uses
// them. Without tracking, eval also uses the instance statistics.
#include <cmath>

#include "core/check.h"
#include "diffnorm/norm.h"
#include "norm/engine.h"

namespace diffnorm {
using namespace norm_detail;

static NormSpec instance_spec(const NormShape& shape, float eps) {
  NormSpec spec;
  spec.shape = shape;
  spec.reduce = Reduce::Group;
  spec.groups = shape.c;
  spec.eps = eps;
  return spec;
}

void instance_norm_forward(const NormShape& shape, const InstanceNormOptions& options, RunningStats running,
                           const ForwardIO& io, Arena& arena) {
  const NormSpec spec = instance_spec(shape, options.eps);
  spec.validate();
  const int64_t N = shape.n, C = shape.c;
  ForwardIO out = io;
  if (!out.mean) out.mean = arena.allocate_array<float>(size_t(N * C));
  if (!out.rstd) out.rstd = arena.allocate_array<float>(size_t(N * C));
  if (!options.training && running.tracked()) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        out.mean[n * C + c] = running.mean[c];
        out.rstd[n * C + c] = float(1.0 / std::sqrt(double(running.var[c]) + double(options.eps)));
      }
    norm_apply(spec, out, arena);
    return;
  }
  if (!(options.training && running.tracked())) return norm_forward(spec, out, arena);
  // Training with tracked running statistics: they are updated from the moments.
  const double m = shape.s;
  DN_CHECK(m > 1, "instance_norm: training with running statistics needs more than 1 value per instance, got S={}",
           shape.s);
  const double f = options.momentum;
  forward_observing_moments(
      spec, out,
      [&](const Moments* stats) {
        for (int64_t c = 0; c < C; ++c) {
          double mean = 0, var = 0;
          for (int64_t n = 0; n < N; ++n) {
            mean += stats[n * C + c].mean;
            var += stats[n * C + c].m2 / (m - 1);
          }
          running.mean[c] = float((1 - f) * running.mean[c] + f * mean / double(N));
          running.var[c] = float((1 - f) * running.var[c] + f * var / double(N));
        }
      },
      arena);
}

void instance_norm_backward(const NormShape& shape, const InstanceNormOptions& options, bool running_tracked,
                            const BackwardIO& io, Arena& arena) {
  norm_backward(instance_spec(shape, options.eps), io, !options.training && running_tracked, arena);
}

}  // namespace diffnorm
