// Internal helpers shared by the layer fronts: statistics in double and their
// conversion to (mean, rstd).
#pragma once

#include <functional>

#include "diffnorm/norm.h"
#include "norm/kernels.h"

namespace diffnorm::norm_detail {

/// The backward with SiLU keeps du (fp32) for the dx pass in a scratch of up to this many
/// values in all (16 MiB): per-thread spans (fused channels-first), or the whole tensor
/// (channels-last): cheaper than recomputing SiLU' from L3. Beyond, SiLU' is computed
/// twice, with the same result: GroupNorm+SiLU 1×512×128×128 NHWC from DRAM, whose du
/// takes 32 MiB, fp32 3.5–4.9 → 2.8–2.9 ms, bf16 2.54–2.77 → 2.71–2.78 (BENCHMARKS.md,
/// session 16). Not const so that tests can cover that path.
inline int64_t kept_du_floats = int64_t(1) << 22;

/// x and dy of a backward of at least this size (the 32 MiB last-level cache of one core
/// complex here) cannot have stayed in cache: the two-pass channels-last backward then
/// reads their rows whole, in memory order (ColVectors::rows_in_order). Not const so that
/// tests can cover that path on small tensors. (Not taken by 16-bit data with SiLU.) From
/// DRAM, GroupNorm NHWC: on Zen 4 fp32 12–18 % and bf16 13–24 % faster; on Zen 5 bf16
/// 1–11 % faster and fp32 5–14 % slower (BENCHMARKS.md, sessions 13 and 14).
inline int64_t beyond_cache_bytes = int64_t(32) << 20;

/// Moments of every statistic of spec (stats[spec.stat_count()]).
void compute_moments(const NormSpec& spec, DType dtype, const void* x, Moments* stats, Arena& arena);

/// mean (0 for the RMS family) and rstd = 1/sqrt(var + eps), var = M2/count (biased), or
/// mean-square + eps for the RMS family; computed in double, rounded once. mean_lo
/// (optional) receives mean − float(mean), the part the fp32 mean cannot hold.
void moments_to_stats(const NormSpec& spec, const Moments* stats, float* mean, float* rstd,
                      float* mean_lo = nullptr);

/// norm_apply with the low part of the mean (null = 0).
void apply_stats(const NormSpec& spec, const ForwardIO& io, const float* mean_lo, Arena& arena);

/// Sees every statistic's moments (stats[spec.stat_count()]) before the apply.
using MomentsObserver = std::function<void(const Moments* stats)>;

/// norm_forward, handing the moments to on_moments (when set: training's running
/// statistics) before the apply. Null mean/rstd in io are allocated from the arena.
void forward_observing_moments(const NormSpec& spec, const ForwardIO& io, const MomentsObserver& on_moments,
                               Arena& arena);

}  // namespace diffnorm::norm_detail
