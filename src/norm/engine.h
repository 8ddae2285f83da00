// Internal helpers shared by the layer fronts: statistics in double and their
// conversion to (mean, rstd).
#pragma once

#include "diffnorm/norm.h"
#include "norm/kernels.h"

namespace diffnorm::norm_detail {

/// Moments of every statistic of spec (stats[spec.stat_count()]).
void compute_moments(const NormSpec& spec, DType dtype, const void* x, Moments* stats, Arena& arena);

/// mean (0 for the RMS family) and rstd = 1/sqrt(var + eps), var = M2/count (biased), or
/// mean-square + eps for the RMS family; computed in double, rounded once.
void moments_to_stats(const NormSpec& spec, const Moments* stats, float* mean, float* rstd);

}  // namespace diffnorm::norm_detail
