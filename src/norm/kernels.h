// Internal: the SIMD kernels of the statistics, apply and backward engines, over plain
// matrix descriptions (the layer-specific planning lives in engine.cpp). Every kernel
// parallelises over fixed-size work items and merges partial results in a fixed order,
// so results do not depend on the thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "diffnorm/dtype.h"
#include "diffnorm/norm.h"

namespace diffnorm::norm_detail {

/// Moments of a set of values: count, mean and M2 = Σ(x − mean)². For the RMS family
/// (no centering) mean stays 0 and M2 = Σx².
struct Moments {
  double count = 0;
  double mean = 0;
  double m2 = 0;
};

/// Chan et al.'s pairwise merge: exact for any split of the data.
inline void merge_into(Moments& a, const Moments& b) {
  if (b.count == 0) return;
  if (a.count == 0) {
    a = b;
    return;
  }
  const double n = a.count + b.count;
  const double delta = b.mean - a.mean;
  a.mean += delta * (b.count / n);
  a.m2 += b.m2 + delta * delta * (a.count * b.count / n);
  a.count = n;
}

/// Moments from shifted sums s1 = Σ(x − K), s2 = Σ(x − K)² over n values (for the RMS
/// family s2 = Σx²).
inline Moments shifted_moments(bool center, double n, double shift, double s1, double s2) {
  if (!center) return {n, 0.0, s2};
  return {n, shift + s1 / n, std::max(s2 - s1 * s1 / n, 0.0)};
}

/// (mean, rstd) of one statistic, computed in double and rounded once: var = M2/count
/// (biased; the mean square for the RMS family), rstd = 1/sqrt(var + eps); mean_lo =
/// mean − float(mean), the part the fp32 mean cannot hold (0 for the RMS family).
inline void finish_moments(const Moments& m, bool center, float eps, float& mean, float& rstd, float& mean_lo) {
  const double var = m.count > 0 ? m.m2 / m.count : 0.0;
  mean = center ? float(m.mean) : 0.0f;
  mean_lo = center ? float(m.mean - double(mean)) : 0.0f;
  rstd = float(1.0 / std::sqrt(var + double(eps)));
}

/// Elements per work item of a contiguous reduction / apply.
inline constexpr int64_t kPiece = 16384;

/// Statistic k reduces `runs` runs of `run_len` contiguous elements, run r starting at
/// element k·stat_stride + r·run_stride.
struct RunLayout {
  int64_t stats = 0, stat_stride = 0, runs = 1, run_stride = 0, run_len = 0;
  int64_t pieces_per_stat() const { return (runs * run_len + kPiece - 1) / kPiece; }
};
/// Moments of each piece (≤ kPiece elements in run order, shifted sums with K = the mean
/// of the piece's first ≤ Lanes values) of each statistic:
/// out[k·pieces_per_stat + p].
void run_moments(DType dtype, const void* x, const RunLayout& layout, bool center, Moments* out);

/// `blocks` blocks of `rows` rows of `width` contiguous elements (rows contiguous too).
/// Work item = (block, chunk of chunk_rows rows).
struct ColLayout {
  int64_t blocks = 1, rows = 0, width = 0, chunk_rows = 1;
  int64_t chunks() const { return (rows + chunk_rows - 1) / chunk_rows; }
};
/// Columns per work item of the column kernels (whole rows of the usual feature maps, so
/// that memory is read in long runs), and rows per chunk of column moments.
inline constexpr int64_t kColChunk = 1024, kColRows = 256;
/// Moments of each column over each row chunk (chunk_rows = kColRows; the shift K of a
/// (chunk, column) is its value in the chunk's first row): out[(b·chunks + j)·width + c].
void col_moments(DType dtype, const void* x, const ColLayout& layout, bool center, Moments* out);

/// Column-group sums of channels-last data (Group and Channel statistics over rows of
/// channels): blocks of rows × width, the columns of group g being
/// [g·width/groups, (g+1)·width/groups). Per (block b, row chunk j) work item and group:
/// s1 = Σ(x − K), s2 = Σ(x − K)² (s2 = Σx² and s1 = 0 when !center), with one shift K
/// per (block, group) for all chunks, so that chunk sums simply add: K = the mean of the
/// group's columns in the block's first ≤ 8 rows (written to shift[b·groups + g]).
/// out[((b·chunks + j)·groups + g)·2 + {0: s1, 1: s2}]. `scratch`: 3·width doubles per thread.
void col_group_sums(DType dtype, const void* x, const ColLayout& layout, int64_t groups, bool center, float* shift,
                    double* out, double* scratch);
/// col_group_sums, called by every thread of the caller's parallel region (as
/// apply_in_team); `scratch` then holds 3·width doubles per thread of that region.
void col_group_sums_in_team(DType dtype, const void* x, const ColLayout& layout, int64_t groups, bool center,
                            float* shift, double* out, double* scratch);
/// The shifts and all chunk sums of one block of col_group_sums, on the calling thread of
/// a parallel region (scratch as col_group_sums_in_team): the same values as there.
void col_group_block_sums(DType dtype, const void* x, const ColLayout& layout, int64_t groups, int64_t block,
                          bool center, float* shift, double* out, double* scratch);

/// y = ((x − m)·r)·a + b, then the epilogue (act, + residual), over a contiguous
/// rows × width matrix. Each of m, r, a, b is either a per-row scalar (row_*[row]) or a
/// per-block vector (vec_*[block·vec_stride + col], block = row / rows_per_block), as
/// the mode says; r is folded into a in the modes that do not name it. m is given as
/// m + m_lo (m_lo the rounding error of the fp32 mean, row_mlo / vec_mlo beside row_m /
/// vec_m, never null) so that x − m stays exact when |mean| ≫ spread.
enum class ApplyMode : uint8_t {
  Scalar,     // m, a, b per row
  VecAffine,  // m, a, b per column (vectors)
  RowStats,   // m, r per row; a, b vectors
  ColStats,   // m, r vectors; a, b per row
};
/// Where the mean is small against the spread (|μ| ≤ 4σ, the usual case) the centring
/// folds into the affine terms, (x − m − m_lo)·a + b = x·a + b′ with b′ = b − (m + m_lo)·a
/// in double: rounding b′ (and x·a) costs |μ·a|·2⁻²⁴ ≤ 4·|a|σ·2⁻²⁴, a few roundings of
/// x̂·a. Farther from zero the exact centring is kept (see ApplyLayout). σ, not
/// 1/rstd = √(σ² + eps): where σ² ≪ eps, |μ|·rstd ≤ 4 would allow |μ| ≫ σ, and x̂ (then
/// small, exactly 0 for a single value) would lose its relative accuracy. σ²·rstd² =
/// 1 − eps·rstd², in double; rounding rstd to fp32 puts up to ~2⁻²³ into it, so below
/// 2⁻¹⁹ it says nothing about σ, and only a zero mean folds.
inline bool foldable(float mean, float rstd, float eps) {
  if (mean == 0.0f) return true;
  const double r2 = double(rstd) * double(rstd), spread = 1.0 - double(eps) * r2;  // σ²·rstd²
  return spread >= 0x1p-19 && double(mean) * double(mean) * r2 <= 16.0 * spread;
}
inline float folded_shift(float m, float m_lo, float a, float b) {
  return float(double(b) - (double(m) + double(m_lo)) * double(a));
}

struct ApplyLayout {
  int64_t rows = 0, width = 0, rows_per_block = 1, vec_stride = 0;
  ApplyMode mode = ApplyMode::Scalar;
  const float *row_m = nullptr, *row_mlo = nullptr, *row_r = nullptr, *row_a = nullptr, *row_b = nullptr;
  const float *vec_m = nullptr, *vec_mlo = nullptr, *vec_r = nullptr, *vec_a = nullptr, *vec_b = nullptr;
  Activation act = Activation::None;
  const void* residual = nullptr;
  float eps = 0;  // of the statistics: RowStats rows test foldable(m, r, eps)
  // Folded centring (see foldable): Scalar rows whose m and m_lo are both 0 compute
  // x·a + b (the caller folds b); RowStats rows fold themselves where foldable(m, r, eps):
  // y = (x·r − (m + m_lo)·r)·a + b; VecAffine and ColStats skip x − m for the whole call
  // when `vec_centred` is false (all m, m_lo 0).
  bool vec_centred = true;
};
void apply(DType dtype, const void* x, void* y, const ApplyLayout& layout);
/// apply, called by every thread of the caller's parallel region, whose threads it
/// shares the rows among (OpenMP worksharing); returns without waiting for the others.
void apply_in_team(DType dtype, const void* x, void* y, const ApplyLayout& layout);
/// Rows [row0, row1) of apply, all on the calling thread.
void apply_rows(DType dtype, const void* x, void* y, const ApplyLayout& layout, int64_t row0, int64_t row1);

/// Statistics and apply in one pass per statistic, while its values are in cache, for
/// statistics that own `rows_per_stat` consecutive rows of the apply layout (channels-first
/// Group statistics: mode Scalar, rows (n, c); channels-last Position statistics: mode
/// RowStats, one row each). Moments as run_moments (pieces of kPiece merged in order) and
/// (mean, rstd, m_lo) as finish_moments, so the results equal the two-pass path's bit for
/// bit. The layout's per-row m, m_lo, r are not read: they come from the statistic; in
/// Scalar mode a = r·row_k[row] and b = layout.row_b[row]; in RowStats mode a, b are the
/// layout's vectors. `stat_mean`, `stat_rstd` [stats] receive the statistics.
struct FusedStats {
  int64_t stats = 0, rows_per_stat = 1;
  bool center = true;
  float eps = 0;
  const float* row_k = nullptr;  // Scalar mode only
  float *stat_mean = nullptr, *stat_rstd = nullptr;
};
void fused_forward(DType dtype, const void* x, void* y, const ApplyLayout& layout, const FusedStats& stats);

/// Statistics and apply tile by tile for channels-first Position statistics (mode
/// ColStats: blocks of rows_per_block channel rows × width positions, a, b per row):
/// kColChunk positions × all channels of a block per work item, so that the apply reads
/// the tile from cache. Moments as col_moments, so the results equal the two-pass path's.
/// `stat_mean`, `stat_rstd` [blocks·width] receive the statistics; F.rows_per_stat and
/// row_k are not used.
void fused_col_forward(DType dtype, const void* x, void* y, const ApplyLayout& layout, const FusedStats& stats);

// Backward. Per element: x̂ = ((x − m) − m_lo)·r (m_lo the fp32 mean's rounding error, as
// in the apply; never null), u = x̂·k + q (the pre-activation value, k = γ(1+s),
// q = β(1+s) + t), du = dy·act'(u); dx = r·(k·du − c1 − x̂·c2).

/// t1 += Σ k[c]·a[c], t2 += Σ k[c]·b[c] over c in [0, n), in order: a statistic's
/// sums over its channels before dx_coefficients. Every backward path adds them here, so
/// that its fused and two-pass forms give the same bits.
inline void add_weighted_channel_sums(const float* k, const double* a, const double* b, int64_t n, double& t1,
                                      double& t2) {
  for (int64_t c = 0; c < n; ++c) {
    t1 += double(k[c]) * a[c];
    t2 += double(k[c]) * b[c];
  }
}

/// A statistic's c1 = center·t1/count and c2 = t2/count from t1 = Σk·Σdu and
/// t2 = Σk·Σdu·x̂ over its `count` values, both 0 when the statistics are constants. Every
/// backward path rounds them here, so that its fused and two-pass forms give the same bits.
inline void dx_coefficients(double t1, double t2, double count, bool center, bool stats_constant, float& c1,
                            float& c2) {
  c1 = stats_constant || !center ? 0.0f : float(t1 / count);
  c2 = stats_constant ? 0.0f : float(t2 / count);
}

/// Rows of contiguous elements with per-row scalars m, r, k, q: per-row sums of du and
/// du·x̂ (sum_du, sum_dux, double) and then, with per-row c1, c2, dx.
struct RowScalars {
  int64_t rows = 0, width = 0;
  const float *m = nullptr, *mlo = nullptr, *r = nullptr, *k = nullptr, *q = nullptr;
  Activation act = Activation::None;
  float eps = 0;  // of the statistics (see foldable)
};
void row_grad_sums(DType dtype, const void* x, const void* dy, const RowScalars& s, double* sum_du,
                   double* sum_dux);
void row_grad_dx(DType dtype, const void* x, const void* dy, void* dx, const RowScalars& s, const float* c1,
                 const float* c2);

/// What the fused Group backwards read to make their per-row or per-column terms
/// themselves: statistic k's mean, mean_lo, rstd at [k], and the affine k, q of channel c
/// of sample n at [n·affine_stride + c] (stride 0: shared by the samples).
struct StatsAndAffine {
  const float *mean = nullptr, *mean_lo = nullptr, *rstd = nullptr, *k = nullptr, *q = nullptr;
  int64_t affine_stride = 0;
};

/// row_grad_sums, the per-statistic coefficients and row_grad_dx span by span, for
/// statistics owning `rows_per_stat` consecutive rows (channels-first Group statistics),
/// while the span of x and dy is in cache: c1 = center·Σk·Σdu/count,
/// c2 = Σk·Σdu·x̂/count over the statistic's rows in order (both 0 when the statistics
/// are constants). sum_du/sum_dux receive the per-row sums, as row_grad_sums. Of s only
/// rows, width, act and eps are used: the per-row scalars come from f.terms, read by the
/// thread that takes the statistic (none waits for them to be spread over the rows, none
/// reads them from the cache of another core).
struct FusedGrad {
  int64_t rows_per_stat = 1;
  bool center = true, stats_constant = false;
  StatsAndAffine terms;   // row (n, c) is channel c of sample n
  int64_t channels = 1;   // rows per sample
  // With SiLU: rows_per_stat·width floats per thread that keep du between the passes
  // where dx cannot (not fp32, or dx = x); null = compute SiLU' twice there.
  float* du_scratch = nullptr;
};
void fused_row_backward(DType dtype, const void* x, const void* dy, void* dx, const RowScalars& s,
                        const FusedGrad& f, double* sum_du, double* sum_dux);

/// Blocks of rows × width with per-block column vectors m, r, k, q (vec[block·width + c])
/// and c1, c2 for dx: column sums of du and du·x̂ per (block, row chunk):
/// out_du/out_dux[(b·chunks + j)·width + c]. With SiLU, `du` (null = none) is an fp32
/// tensor of x's size that col_grad_sums fills with du and col_grad_dx(_folded) reads
/// instead of computing SiLU' again.
struct ColVectors {
  ColLayout layout;
  const float *m = nullptr, *mlo = nullptr, *r = nullptr, *k = nullptr, *q = nullptr;
  // Where every statistic is foldable (see foldable), the terms of folded_col_terms:
  // x̂ = x·r + xh_shift and, with SiLU, u = x·u_scale + u_shift, one FMA each from x
  // instead of x̂ = ((x − m) − m_lo)·r, u = x̂·k + q. Null: not folded.
  const float *xh_shift = nullptr, *u_scale = nullptr, *u_shift = nullptr;
  Activation act = Activation::None;
  float* du = nullptr;
  // col_grad_sums reads rows wider than a column tile (and ≤ kRowOrderMaxWidth) whole, in
  // memory order, instead of tile by tile over a block of rows: the same sums, and from
  // DRAM the faster walk (BENCHMARKS.md, session 13).
  bool rows_in_order = false;
};
inline constexpr int64_t kRowOrderMaxWidth = 2048;
void col_grad_sums(DType dtype, const void* x, const void* dy, const ColVectors& v, double* out_du,
                   double* out_dux);
void col_grad_dx(DType dtype, const void* x, const void* dy, void* dx, const ColVectors& v, const float* c1,
                 const float* c2);
/// ColVectors' folded terms of one column: b′ = −(m + m_lo)·r, a = r·k, b = q − (m + m_lo)·a,
/// each computed in double and rounded once.
inline void folded_col_terms(float m, float m_lo, float r, float k, float q, float& xh_shift, float& u_scale,
                             float& u_shift) {
  xh_shift = folded_shift(m, m_lo, r, 0.0f);  // as RowNormOf folds a row
  u_scale = float(double(r) * double(k));
  u_shift = folded_shift(m, m_lo, u_scale, q);
}

/// col_grad_dx where every statistic is foldable: dx = p·du + q·x + o with per-column
/// vectors [block·width + c] p = r·k, q = −r²·c2, o = r²·c2·(m + m_lo) − r·c1 (r = rstd),
/// each computed in double by folded_dx_terms. du = dy; with SiLU (u_shift not null)
/// du = dy·SiLU'(x·p + u_shift) (p equals ColVectors::u_scale), or du is read from `du`
/// where col_grad_sums kept it.
struct FoldedDx {
  const float *p = nullptr, *q = nullptr, *o = nullptr, *u_shift = nullptr;
  const float* du = nullptr;
};
inline void folded_dx_terms(float r, float k, float m, float m_lo, float c1, float c2, float& p, float& q, float& o) {
  const double rr = r, r2c2 = rr * rr * double(c2);
  p = float(rr * double(k));
  q = float(-r2c2);
  o = float(r2c2 * (double(m) + double(m_lo)) - rr * double(c1));
}
void col_grad_dx_folded(DType dtype, const void* x, const void* dy, void* dx, const ColLayout& layout,
                        const FoldedDx& f);

/// col_grad_sums, the group coefficients and col_grad_dx (or col_grad_dx_folded, where
/// f.fold) tile by tile, for channels-last Group statistics (`groups` groups of
/// adjacent columns in each block): a work item is a block's tile of `tile_groups` whole groups,
/// read from memory by the sums and again from cache by dx. The same additions in the
/// same order as those two passes and the engine's coefficients between them, so the
/// same bits. out_du/out_dux[block·width + c] receive the column sums. Of v only the
/// layout and act are used.
struct FusedColGrad {
  int64_t groups = 1, tile_groups = 1;
  bool center = true, stats_constant = false;
  // Each work item puts its tile's column vectors (ColVectors' m, m_lo, r, k, q and, where
  // `fold`, the folded terms of folded_col_terms) in its scratch itself, from `terms`
  // (statistic block·groups + g; block = sample): none waits for them, and none reads
  // them from the cache of the core that wrote them.
  StatsAndAffine terms;
  bool fold = false;
  double* chunk_sums = nullptr;  // 2·tile width per thread
  // With SiLU: du waits between the passes in dx (fp32 storage only, and dx not x, which
  // is read again); else in the scratch.
  bool du_in_dx = false;
  // Per thread, scratch_floats each: kFusedColTermArrays·tile width floats of per-column
  // terms, then, with SiLU and not du_in_dx, rows·tile width floats that keep du.
  float* scratch = nullptr;
  int64_t scratch_floats = 0;
};
inline constexpr int64_t kFusedColTermArrays = 13;
void fused_col_group_backward(DType dtype, const void* x, const void* dy, void* dx, const ColVectors& v,
                              const FusedColGrad& f, double* out_du, double* out_dux);

/// Position statistics in channels-last rows (LayerNorm, RMSNorm, PixelNorm-NHWC): rows of
/// `width` with per-row m, r and per-block vectors k, q (vec_stride 0 = shared). One pass:
/// row sums g1 = Σk·du, g2 = Σk·du·x̂, dx = r·(k·du − center·g1/W − x̂·g2/W); column sums of du and du·x̂ per (block, chunk of
/// chunk_rows rows within the block) into out_du/out_dux (when non-null) as fp32,
/// [(b·chunks + j)·width + c]; the caller adds the chunks in double. `scratch`: 6·width
/// floats per thread.
struct RowStatsGrad {
  int64_t rows = 0, width = 0, rows_per_block = 1, vec_stride = 0, chunk_rows = 1;
  const float *m = nullptr, *mlo = nullptr, *r = nullptr, *k = nullptr, *q = nullptr;
  Activation act = Activation::None;
  bool center = true;
  float eps = 0;  // of the statistics (see foldable)
  int64_t chunks_per_block() const { return (rows_per_block + chunk_rows - 1) / chunk_rows; }
};
void row_stats_backward(DType dtype, const void* x, const void* dy, void* dx, const RowStatsGrad& g,
                        float* out_du, float* out_dux, float* scratch);

/// Position statistics in channels-first blocks (PixelNorm-NCHW): blocks of `rows`
/// channels × `width` positions, per-column (block) vectors m, r, per-row scalars k, q
/// (k[b·k_stride + c], q likewise, for row c of block b). Column reductions over the rows
/// for dx, row sums of du and du·x̂ per block into row_du/row_dux [b·rows + c] (when
/// non-null). `scratch`: 2·kColChunk floats per thread; partial row sums come from `arena`.
struct ColStatsGrad {
  int64_t blocks = 0, rows = 0, width = 0, k_stride = 0;
  const float *m = nullptr, *mlo = nullptr, *r = nullptr, *k = nullptr, *q = nullptr;
  Activation act = Activation::None;
  bool center = true;
};
void col_stats_backward(DType dtype, const void* x, const void* dy, void* dx, const ColStatsGrad& g,
                        double* row_du, double* row_dux, float* scratch, Arena& arena);

}  // namespace diffnorm::norm_detail
