// AdaBN exact mode: population statistics of a BatchNorm layer's input over all batches
// fed, per channel. Each batch is reduced by the statistics engine (double moments) and
// merged with Chan's formula, so the batch split and order change only rounding.
#include "core/check.h"
#include "diffnorm/norm.h"
#include "norm/engine.h"

namespace diffnorm {
using namespace norm_detail;

BatchNormStatsAccumulator::BatchNormStatsAccumulator(int64_t channels)
    : mean_(size_t(channels), 0.0), m2_(size_t(channels), 0.0) {
  DN_CHECK(channels >= 1, "BatchNormStatsAccumulator: channels must be >= 1, got {}", channels);
}

void BatchNormStatsAccumulator::add(const NormShape& shape, DType dtype, const void* x, Arena& arena) {
  DN_CHECK(shape.c == channels(), "BatchNormStatsAccumulator: batch has {} channels, the layer has {}", shape.c,
           channels());
  NormSpec spec;
  spec.shape = shape;
  spec.reduce = Reduce::Channel;
  spec.validate();
  Moments* batch = arena.allocate_array<Moments>(size_t(shape.c));
  compute_moments(spec, dtype, x, batch, arena);
  for (int64_t c = 0; c < shape.c; ++c) {
    Moments total{count_, mean_[size_t(c)], m2_[size_t(c)]};
    merge_into(total, batch[c]);
    mean_[size_t(c)] = total.mean;
    m2_[size_t(c)] = total.m2;
  }
  count_ += double(shape.n * shape.s);
}

void BatchNormStatsAccumulator::add(const Tensor& x, Layout layout) {
  const Tensor xc = x.contiguous();
  Arena arena;
  add(norm_shape_of(xc, layout), xc.dtype(), xc.raw(), arena);
}

std::vector<double> BatchNormStatsAccumulator::variance(bool unbiased) const {
  DN_CHECK(count_ > (unbiased ? 1 : 0), "BatchNormStatsAccumulator: {} values per channel are too few for a{} variance",
           count_, unbiased ? "n unbiased" : "");
  std::vector<double> var(m2_.size());
  for (size_t c = 0; c < var.size(); ++c) var[c] = m2_[c] / (unbiased ? count_ - 1 : count_);
  return var;
}

void BatchNormStatsAccumulator::finalize(float* running_mean, float* running_var, bool unbiased) const {
  const std::vector<double> var = variance(unbiased);
  for (size_t c = 0; c < var.size(); ++c) {
    running_mean[c] = float(mean_[c]);
    running_var[c] = float(var[c]);
  }
}

}  // namespace diffnorm
