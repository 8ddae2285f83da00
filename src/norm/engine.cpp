// The statistics, apply and backward engines: maps a NormSpec onto the kernels' matrix
// forms. Memory is "channels-last" when the channel axis is innermost (NHWC, or any layout
// with S = 1); then a Position statistic is a contiguous row and Group/Channel statistics
// are column reductions. Otherwise (NCHW, S > 1) Group/Channel statistics are contiguous
// runs and Position statistics are column reductions over the channels.
#include "norm/engine.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <numeric>

#include "core/check.h"

namespace diffnorm {
using namespace norm_detail;

namespace {

bool channels_innermost(const NormShape& s) { return s.layout == Layout::NHWC || s.s == 1; }

int max_threads() { return omp_get_max_threads(); }

// Rows per work item of the channels-last Position backward: at most 64, in a number of
// items rounded up to a multiple of 4, so that a static schedule over 2 or 4 threads
// splits even short inputs evenly (2×77 rows in chunks of 64 gave one of two threads 128
// rows and the other 26; more, smaller items cost more in per-item column sums than they
// gain); a multiple of the 4 rows the kernel takes at once. A function of the shape
// alone: the column sums are added per chunk, and the result must not depend on the
// thread count.
int64_t row_grad_chunk_rows(int64_t rows) {
  const int64_t items = (rows + 64 * 4 - 1) / (64 * 4) * 4;
  return std::max<int64_t>(4, (rows + 4 * items - 1) / (4 * items) * 4);
}

// Whether the centring of every one of the spec's statistics folds (see foldable).
bool every_stat_foldable(const NormSpec& spec, const float* mean, const float* rstd) {
  const int64_t K = spec.stat_count();
  for (int64_t k = 0; k < K; ++k)
    if (!foldable(mean[k], rstd[k], spec.eps)) return false;
  return true;
}

double* zeroed_doubles(Arena& arena, int64_t count) {
  double* p = arena.allocate_array<double>(size_t(count));
  std::fill(p, p + count, 0.0);
  return p;
}

// Calls f(n, k, c0, c1) for each run of channels [c0, c1) of sample n ∈ [n0, n1) that
// share statistic k in the Group (runs = groups) and Channel (runs = channels, k = c)
// reductions: the per-(n, c) tables below are mostly built on one thread while the
// others wait, so without a division per element, in loops the compiler can vectorize.
template <class F>
void for_each_channel_run(const NormSpec& spec, int64_t n0, int64_t n1, F f) {
  const bool group = spec.reduce == Reduce::Group;
  const int64_t runs = group ? spec.groups : spec.shape.c, len = spec.shape.c / runs;
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t g = 0; g < runs; ++g) f(n, group ? n * runs + g : g, g * len, (g + 1) * len);
}

// k = γ(1 + scale), q = β(1 + scale) + shift per (n, c); stride 0 (shared over n) when
// there is no modulation. Null γ/β/scale/shift count as 1/0/0/0.
struct AffineTable {
  const float* k;
  const float* q;
  int64_t stride;
};

AffineTable make_affine(const NormShape& sh, const float* gamma, const float* beta, const Modulation& mod,
                        Arena& arena) {
  // γ and β themselves where nothing modulates them: not copied at every call into memory
  // the other threads then read from this core's cache.
  if (gamma && beta && !mod.active()) return {gamma, beta, 0};
  const int64_t C = sh.c;
  const int64_t rows = mod.active() ? sh.n : 1;
  float* k = arena.allocate_array<float>(size_t(rows * C));
  float* q = arena.allocate_array<float>(size_t(rows * C));
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
      const float s = mod.scale ? 1.0f + mod.scale[n * C + c] : 1.0f;
      const float t = mod.shift ? mod.shift[n * C + c] : 0.0f;
      k[n * C + c] = g * s;
      q[n * C + c] = float(double(b) * double(s) + double(t));  // exact product; std::fma: a libm call here
    }
  return {k, q, mod.active() ? C : 0};
}

// The apply's per-(n, c) m, m_lo, a = r·k, b = q of samples [n0, n1) (Group / Channel
// reductions), sample n's at [n·stride, n·stride + C); where fold(k), the centring is
// folded into b and m = m_lo = 0. Returns whether any of them keeps its centring.
template <class Fold>
bool channel_apply_rows(const NormSpec& spec, const float* mean, const float* mean_lo, const float* rstd,
                        const AffineTable& aff, int64_t n0, int64_t n1, int64_t stride, Fold fold, float* m,
                        float* mlo, float* a, float* b) {
  bool centred = false;
  for_each_channel_run(spec, n0, n1, [&](int64_t n, int64_t k, int64_t c0, int64_t c1) {
    const bool f = fold(k);
    centred |= !f;
    const float mk = mean[k], lk = mean_lo[k], rk = rstd[k];
    const float* __restrict kk = aff.k + n * aff.stride;
    const float* __restrict qq = aff.q + n * aff.stride;
    float* __restrict mo = m + n * stride;
    float* __restrict lo = mlo + n * stride;
    float* __restrict ao = a + n * stride;
    float* __restrict bo = b + n * stride;
    std::fill(mo + c0, mo + c1, f ? 0.0f : mk);
    std::fill(lo + c0, lo + c1, f ? 0.0f : lk);
    for (int64_t c = c0; c < c1; ++c) ao[c] = rk * kk[c];
    if (f) {
      for (int64_t c = c0; c < c1; ++c) bo[c] = folded_shift(mk, lk, ao[c], qq[c]);
    } else {
      std::copy(qq + c0, qq + c1, bo + c0);
    }
  });
  return centred;
}

// The affine table with one (k, q) per (n, c) row, also where it is shared over n.
struct RowAffine {
  float* k;
  float* q;
};
RowAffine affine_per_row(const NormShape& sh, const AffineTable& aff, Arena& arena) {
  const int64_t N = sh.n, C = sh.c;
  float* k = arena.allocate_array<float>(size_t(N * C));
  float* q = arena.allocate_array<float>(size_t(N * C));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      k[n * C + c] = aff.k[n * aff.stride + c];
      q[n * C + c] = aff.q[n * aff.stride + c];
    }
  return {k, q};
}

// Channels-first Position statistics: rows (n, c) of S positions with the affine terms
// per row; the statistics (vectors over positions) are the caller's.
ApplyLayout channel_rows_layout(const NormShape& sh, const RowAffine& rows) {
  ApplyLayout L;
  L.mode = ApplyMode::ColStats;
  L.rows = sh.n * sh.c;
  L.width = sh.s;
  L.rows_per_block = sh.c;
  L.vec_stride = sh.s;
  L.row_a = rows.k;
  L.row_b = rows.q;
  return L;
}

// Channels-last Position statistics: rows (n, s) of C channels, one statistic per row
// (the caller's), the affine terms per sample.
ApplyLayout position_rows_layout(const NormShape& sh, const AffineTable& aff) {
  ApplyLayout L;
  L.mode = ApplyMode::RowStats;
  L.rows = sh.n * sh.s;
  L.width = sh.c;
  L.rows_per_block = sh.s;
  L.vec_stride = aff.stride;
  L.vec_a = aff.k;
  L.vec_b = aff.q;
  return L;
}

void check_io(const NormSpec& spec, DType dtype, const Modulation& mod) {
  spec.validate();
  DN_CHECK(dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16,
           "norm: activations must be stored as F32, F16 or BF16, got {}", dtype_name(dtype));
  DN_CHECK(!(mod.active() && spec.reduce == Reduce::Channel),
           "norm: modulation (scale/shift per sample and channel) is not defined for BatchNorm (Reduce::Channel)");
}

// A statistic whose values are one contiguous span (channels-first Group, channels-last
// Position) is computed and applied span by span while the span is in cache, when a span
// fits in a share of the last-level cache and there is a span for every thread.
constexpr int64_t kFusedSpanBytes = int64_t(4) << 20;

// Channels-first Position statistics go tile by tile (kColChunk positions × all
// channels) under the same conditions.

bool fused_col_forward_if_fits(const NormSpec& spec, const ForwardIO& io, Arena& arena) {
  const NormShape& sh = spec.shape;
  const int64_t N = sh.n, C = sh.c, S = sh.s;
  const int64_t tiles = N * ((S + kColChunk - 1) / kColChunk);
  if (C * std::min(S, kColChunk) * int64_t(dtype_size(io.dtype)) > kFusedSpanBytes || tiles < max_threads())
    return false;
  const AffineTable aff = make_affine(sh, io.gamma, io.beta, io.modulation, arena);
  ApplyLayout L = channel_rows_layout(sh, affine_per_row(sh, aff, arena));
  L.act = io.activation;
  L.residual = io.residual;
  FusedStats F;
  F.stats = N * S;
  F.center = spec.center;
  F.eps = spec.eps;
  F.stat_mean = io.mean;
  F.stat_rstd = io.rstd;
  fused_col_forward(io.dtype, io.x, io.y, L, F);
  return true;
}

bool fused_forward_if_fits(const NormSpec& spec, const ForwardIO& io, Arena& arena) {
  const NormShape& sh = spec.shape;
  const bool inner = channels_innermost(sh);
  const bool group_runs = spec.reduce == Reduce::Group && !inner;
  const bool position_rows = spec.reduce == Reduce::Position && inner;
  if (spec.reduce == Reduce::Position && !inner) return fused_col_forward_if_fits(spec, io, arena);
  if (!group_runs && !position_rows) return false;
  const int64_t K = spec.stat_count(), span = sh.numel() / K;
  if (span * int64_t(dtype_size(io.dtype)) > kFusedSpanBytes || K < max_threads()) return false;
  const AffineTable aff = make_affine(sh, io.gamma, io.beta, io.modulation, arena);
  // Position: one row of C per statistic, k, q per sample; Group: set below.
  ApplyLayout L = group_runs ? ApplyLayout{} : position_rows_layout(sh, aff);
  L.act = io.activation;
  L.residual = io.residual;
  FusedStats F;
  F.stats = K;
  F.center = spec.center;
  F.eps = spec.eps;
  F.stat_mean = io.mean;
  F.stat_rstd = io.rstd;
  if (group_runs) {  // rows (n, c) of S with k, q per row
    const RowAffine rows = affine_per_row(sh, aff, arena);
    L.mode = ApplyMode::Scalar;
    L.rows = sh.n * sh.c;
    L.width = sh.s;
    L.row_b = rows.q;
    F.row_k = rows.k;
    F.rows_per_stat = sh.c / spec.groups;
  }
  fused_forward(io.dtype, io.x, io.y, L, F);
  return true;
}

}  // namespace

// ---- NormSpec --------------------------------------------------------------------------

int64_t NormSpec::stat_count() const {
  switch (reduce) {
    case Reduce::Group: return shape.n * groups;
    case Reduce::Channel: return shape.c;
    case Reduce::Position: return shape.n * shape.s;
  }
  return 0;
}

int64_t NormSpec::stat_index(int64_t n, int64_t c, int64_t s) const {
  switch (reduce) {
    case Reduce::Group: return n * groups + c / (shape.c / groups);
    case Reduce::Channel: return c;
    case Reduce::Position: return n * shape.s + s;
  }
  return 0;
}

void NormSpec::validate() const {
  DN_CHECK(shape.n >= 1 && shape.c >= 1 && shape.s >= 1,
           "norm: N, C and S must be at least 1, got N={} C={} S={}", shape.n, shape.c, shape.s);
  if (reduce == Reduce::Group)
    DN_CHECK(groups >= 1 && shape.c % groups == 0, "norm: groups ({}) must divide the channel count ({})", groups,
             shape.c);
  DN_CHECK(std::isfinite(eps) && eps >= 0, "norm: eps must be finite and >= 0, got {}", eps);
}

// ---- statistics ---------------------------------------------------------------------------

namespace norm_detail {

// Channels-last Group and Channel statistics: sums of column groups per (block, row
// chunk), added in chunk order (all chunks of a block share its shifts); statistic
// b·groups + g. Rows per work item: ~32K elements, and at least 64 rows so that the
// per-item group sums stay a small part of the work. groups = 0 where the statistics
// are not column groups.
struct ColumnGroups {
  ColLayout layout;
  int64_t groups = 0;
};
ColumnGroups column_groups_of(const NormSpec& spec) {
  const int64_t N = spec.shape.n, C = spec.shape.c, S = spec.shape.s;
  const int64_t chunk_rows = std::max<int64_t>(64, 32768 / C);
  if (!channels_innermost(spec.shape)) return {};
  if (spec.reduce == Reduce::Group && spec.groups > 1 && S > 1) return {{N, S, C, chunk_rows}, spec.groups};
  if (spec.reduce == Reduce::Channel) return {{1, N * S, C, chunk_rows}, C};
  return {};
}
struct ColumnGroupSums {
  float* shift;    // [blocks·groups]
  double* part;    // [blocks·chunks·groups·2]
  double* scratch;  // 3·width per thread
};
ColumnGroupSums allocate_column_group_sums(const ColumnGroups& G, Arena& arena) {
  const ColLayout& L = G.layout;
  return {arena.allocate_array<float>(size_t(L.blocks * G.groups)),
          arena.allocate_array<double>(size_t(L.blocks * L.chunks() * G.groups * 2)),
          arena.allocate_array<double>(size_t(max_threads() * 3 * L.width))};
}
// The statistics of blocks [b0, b1) from col_group_sums' partial sums, the chunks added
// in order.
void column_group_moments(const ColumnGroups& G, const ColumnGroupSums& sums, bool center, int64_t b0, int64_t b1,
                          Moments* stats) {
  const ColLayout& L = G.layout;
  const int64_t chunks = L.chunks(), groups = G.groups;
  const double n = double(L.rows) * double(L.width / groups);
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t g = 0; g < groups; ++g) {
      double s1 = 0, s2 = 0;
      for (int64_t j = 0; j < chunks; ++j) {
        s1 += sums.part[((b * chunks + j) * groups + g) * 2];
        s2 += sums.part[((b * chunks + j) * groups + g) * 2 + 1];
      }
      stats[b * groups + g] = shifted_moments(center, n, sums.shift[b * groups + g], s1, s2);
    }
}

void compute_moments(const NormSpec& spec, DType dtype, const void* x, Moments* stats, Arena& arena) {
  const int64_t N = spec.shape.n, C = spec.shape.c, S = spec.shape.s;
  const bool inner = channels_innermost(spec.shape);
  // Contiguous statistics: pieces, merged per statistic in order.
  auto runs = [&](RunLayout L) {
    const int64_t pps = L.pieces_per_stat();
    Moments* pieces = arena.allocate_array<Moments>(size_t(L.stats * pps));
    run_moments(dtype, x, L, spec.center, pieces);
    for (int64_t k = 0; k < L.stats; ++k) {
      Moments m;
      for (int64_t p = 0; p < pps; ++p) merge_into(m, pieces[k * pps + p]);
      stats[k] = m;
    }
  };
  // Column statistics: per (block, row chunk, column) partials; `stat_of(b, c)` maps a
  // column of a block to its statistic; merged in (chunk, column) order.
  auto columns = [&](ColLayout L, auto stat_of) {
    const int64_t chunks = L.chunks();
    Moments* part = arena.allocate_array<Moments>(size_t(L.blocks * chunks * L.width));
    col_moments(dtype, x, L, spec.center, part);
    const int64_t count = spec.stat_count();
    for (int64_t k = 0; k < count; ++k) stats[k] = Moments{};
    for (int64_t b = 0; b < L.blocks; ++b)
      for (int64_t j = 0; j < chunks; ++j)
        for (int64_t c = 0; c < L.width; ++c) merge_into(stats[stat_of(b, c)], part[(b * chunks + j) * L.width + c]);
  };
  if (const ColumnGroups G = column_groups_of(spec); G.groups > 0) {
    const ColumnGroupSums sums = allocate_column_group_sums(G, arena);
    col_group_sums(dtype, x, G.layout, G.groups, spec.center, sums.shift, sums.part, sums.scratch);
    return column_group_moments(G, sums, spec.center, 0, G.layout.blocks, stats);
  }

  switch (spec.reduce) {
    case Reduce::Group: {
      const int64_t G = spec.groups, Cg = C / G;
      if (!inner) return runs({N * G, Cg * S, 1, 0, Cg * S});
      if (G == 1) return runs({N, S * C, 1, 0, S * C});
      return runs({N * G, Cg, 1, 0, Cg});  // S = 1
    }
    case Reduce::Channel:
      if (!inner) {  // rows (n, c) in memory order, merged per channel over n in order
        const RunLayout L{N * C, S, 1, 0, S};
        const int64_t pps = L.pieces_per_stat();
        Moments* pieces = arena.allocate_array<Moments>(size_t(L.stats * pps));
        run_moments(dtype, x, L, spec.center, pieces);
        for (int64_t c = 0; c < C; ++c) {
          Moments m;
          for (int64_t n = 0; n < N; ++n)
            for (int64_t p = 0; p < pps; ++p) merge_into(m, pieces[(n * C + c) * pps + p]);
          stats[c] = m;
        }
        return;
      }
      break;  // column groups, above
    case Reduce::Position:
      if (inner) return runs({N * S, C, 1, 0, C});
      return columns({N, C, S, kColRows}, [&](int64_t b, int64_t s) { return b * S + s; });
  }
}

void moments_to_stats(const NormSpec& spec, const Moments* stats, float* mean, float* rstd, float* mean_lo) {
  const int64_t count = spec.stat_count();
  for (int64_t k = 0; k < count; ++k) {
    float lo;
    finish_moments(stats[k], spec.center, spec.eps, mean[k], rstd[k], lo);
    if (mean_lo) mean_lo[k] = lo;
  }
}

}  // namespace norm_detail

void norm_moments(const NormSpec& spec, DType dtype, const void* x, double* count, double* mean, double* m2,
                  Arena& arena) {
  check_io(spec, dtype, {});
  const int64_t K = spec.stat_count();
  Moments* stats = arena.allocate_array<Moments>(size_t(K));
  compute_moments(spec, dtype, x, stats, arena);
  for (int64_t k = 0; k < K; ++k) {
    count[k] = stats[k].count;
    mean[k] = stats[k].mean;
    m2[k] = stats[k].m2;
  }
}

// ---- forward ------------------------------------------------------------------------------

namespace {

// Short channels-last rows of 16-bit data (BatchNorm's 64 channels: 128 bytes of bf16)
// would spend the apply and the backward's dx pass in their per-row set-up: k consecutive
// rows of a block (k a power of two dividing rows_per_block) go in one row of up to 2 KiB,
// the per-column vectors repeated k times. BatchNorm 32×64×56×56 NHWC bf16 in cache, two
// threads: eval 0.57 → 0.26 ms, train forward 0.83 → 0.50, train backward 0.73 → 0.54.
// fp32 rows (256 bytes there) stay as they are: joined, they were as fast or 1–5 % slower.
int64_t joined_rows(int64_t width, int64_t rows_per_block, DType dtype) {
  constexpr int64_t kJoinedRowBytes = 2048;
  const int64_t value_bytes = int64_t(dtype_size(dtype));
  if (value_bytes != 2) return 1;
  int64_t k = 1;
  while (2 * k * width * value_bytes <= kJoinedRowBytes && rows_per_block % (2 * k) == 0) k *= 2;
  return k;
}

// Each of `blocks` rows of `width` values repeated k times: [blocks][k][width].
const float* repeat_rows(const float* v, int64_t blocks, int64_t width, int64_t k, Arena& arena) {
  if (k == 1) return v;
  float* out = arena.allocate_array<float>(size_t(blocks * k * width));
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t j = 0; j < k; ++j) std::copy(v + b * width, v + (b + 1) * width, out + (b * k + j) * width);
  return out;
}

// The VecAffine apply of channels-last Group and Channel statistics: rows of C channels
// with the vectors m, m_lo, a, b of their block (a sample; for Channel, which has no
// per-sample parameters, the whole input), `join` rows (joined_rows) taken as one and the
// vectors repeated `join` times: [blocks][join][C].
struct ChannelVectors {
  int64_t blocks = 1, join = 1;
  float *m = nullptr, *mlo = nullptr, *a = nullptr, *b = nullptr;
};
ChannelVectors allocate_channel_vectors(const NormSpec& spec, DType dtype, Arena& arena) {
  const NormShape& sh = spec.shape;
  ChannelVectors V;
  V.blocks = spec.reduce == Reduce::Channel ? 1 : sh.n;
  V.join = joined_rows(sh.c, sh.s, dtype);
  const size_t size = size_t(V.blocks * V.join * sh.c);
  V.m = arena.allocate_array<float>(size);
  V.mlo = arena.allocate_array<float>(size);
  V.a = arena.allocate_array<float>(size);
  V.b = arena.allocate_array<float>(size);
  return V;
}
// The vectors of blocks [b0, b1), each statistic's centring folded where foldable (see
// channel_apply_rows); returns whether any of them keeps its centring.
bool fill_channel_vectors(const NormSpec& spec, const float* mean, const float* mean_lo, const float* rstd,
                          const AffineTable& aff, int64_t b0, int64_t b1, const ChannelVectors& V) {
  const int64_t C = spec.shape.c, stride = V.join * C;
  const auto fold = [&](int64_t k) { return foldable(mean[k], rstd[k], spec.eps); };
  const bool centred = channel_apply_rows(spec, mean, mean_lo, rstd, aff, b0, b1, stride, fold, V.m, V.mlo, V.a, V.b);
  for (float* v : {V.m, V.mlo, V.a, V.b})
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t j = 1; j < V.join; ++j) std::copy(v + b * stride, v + b * stride + C, v + b * stride + j * C);
  return centred;
}
// The apply over V. Where `centred` is false every statistic folds and the call skips
// x − m; where it is true the folded ones have m = m_lo = 0, and x − 0 − 0 = x gives them
// the same bits.
ApplyLayout channel_vectors_layout(const NormShape& sh, const ChannelVectors& V, bool centred) {
  ApplyLayout L;
  L.mode = ApplyMode::VecAffine;
  L.vec_centred = centred;
  L.rows = sh.n * sh.s / V.join;
  L.width = V.join * sh.c;
  L.rows_per_block = sh.s / V.join;
  L.vec_stride = V.blocks == 1 ? 0 : V.join * sh.c;
  L.vec_m = V.m;
  L.vec_mlo = V.mlo;
  L.vec_a = V.a;
  L.vec_b = V.b;
  return L;
}

// The apply of a forward whose statistics are known (io.mean, io.rstd and mean_lo).
ApplyLayout apply_layout(const NormSpec& spec, const ForwardIO& io, const float* mean_lo_in, Arena& arena) {
  const NormShape& sh = spec.shape;
  const int64_t N = sh.n, C = sh.c, S = sh.s;
  const AffineTable aff = make_affine(sh, io.gamma, io.beta, io.modulation, arena);
  const int64_t K = spec.stat_count();
  float* zeros = nullptr;
  if (!mean_lo_in) {
    zeros = arena.allocate_array<float>(size_t(K));
    std::fill(zeros, zeros + K, 0.0f);
  }
  const float* mean_lo = mean_lo_in ? mean_lo_in : zeros;
  ApplyLayout L;
  const bool inner = channels_innermost(sh);

  if (spec.reduce == Reduce::Position) {
    if (inner) {  // rows of C with their own (m, r); k, q per sample
      L = position_rows_layout(sh, aff);
      L.eps = spec.eps;
      L.row_m = io.mean;
      L.row_mlo = mean_lo;
      L.row_r = io.rstd;
    } else {  // rows are channels; (m, r) per position vector
      L = channel_rows_layout(sh, affine_per_row(sh, aff, arena));
      L.vec_centred = spec.center;
      L.vec_m = io.mean;
      L.vec_mlo = mean_lo;
      L.vec_r = io.rstd;
    }
  } else if (inner) {  // rows of C: per-channel vectors m, a = r·k, b = q per block
    const ChannelVectors V = allocate_channel_vectors(spec, io.dtype, arena);
    L = channel_vectors_layout(sh, V, fill_channel_vectors(spec, io.mean, mean_lo, io.rstd, aff, 0, V.blocks, V));
  } else {  // rows (n, c) of S: scalars
    float* m = arena.allocate_array<float>(size_t(N * C));
    float* mlo = arena.allocate_array<float>(size_t(N * C));
    float* a = arena.allocate_array<float>(size_t(N * C));
    float* b = arena.allocate_array<float>(size_t(N * C));
    const auto fold = [&](int64_t k) { return foldable(io.mean[k], io.rstd[k], spec.eps); };
    channel_apply_rows(spec, io.mean, mean_lo, io.rstd, aff, 0, N, C, fold, m, mlo, a, b);  // as fused_forward folds
    L.mode = ApplyMode::Scalar;
    L.rows = N * C;
    L.width = S;
    L.row_m = m;
    L.row_mlo = mlo;
    L.row_a = a;
    L.row_b = b;
  }
  L.act = io.activation;
  L.residual = io.residual;
  return L;
}

// The channels-last Group and Channel forward in one parallel region: column-group sums,
// then (one thread) the statistics and the apply's per-column vectors, then the apply.
// Two regions with the serial part between them left the second thread idle 40 % of the
// time on small shapes (GroupNorm 2×1280×16×16 NHWC bf16, `perf` per thread).
void column_group_forward(const NormSpec& spec, const ForwardIO& io, const ColumnGroups& G,
                          const MomentsObserver& on_moments, Arena& arena) {
  DN_CHECK(io.x && io.y, "norm_forward: x and y are required");
  const ColumnGroupSums sums = allocate_column_group_sums(G, arena);
  Moments* stats = arena.allocate_array<Moments>(size_t(spec.stat_count()));
  float* mean_lo = arena.allocate_array<float>(size_t(spec.stat_count()));
  ApplyLayout L;  // rows = 0 (nothing to apply) unless the statistics step succeeds
  std::exception_ptr error;
#pragma omp parallel
  {
    col_group_sums_in_team(io.dtype, io.x, G.layout, G.groups, spec.center, sums.shift, sums.part, sums.scratch);
#pragma omp barrier
#pragma omp single
    try {
      column_group_moments(G, sums, spec.center, 0, G.layout.blocks, stats);
      if (on_moments) on_moments(stats);
      moments_to_stats(spec, stats, io.mean, io.rstd, mean_lo);
      L = apply_layout(spec, io, mean_lo, arena);
    } catch (...) {
      error = std::current_exception();  // no exception may leave a parallel region
    }
    apply_in_team(io.dtype, io.x, io.y, L);
  }
  if (error) std::rethrow_exception(error);
}

// The channels-last Group forward sample by sample, where the samples share out evenly
// over the threads: each thread sums its sample's groups, finishes their statistics,
// fills the sample's vectors and applies them, with no barrier, no step on one thread
// while the others wait, no vectors read from another core's cache, and the sample still
// in this core's cache where it fits. The same sums in the same order as
// column_group_forward, so the same bits. Two threads, against column_group_forward:
// 2×1280×16×16 3–10 % faster, 2×320×64×64 fp32 (5.2 MB a sample) 1–8 %, 2×512×128×128
// (33.5 MB) 2 %, in cache and from memory alike.
bool fused_column_group_forward_if_even(const NormSpec& spec, const ForwardIO& io, const ColumnGroups& G,
                                        Arena& arena) {
  const NormShape& sh = spec.shape;
  const int64_t N = sh.n, T = max_threads();
  const bool even = N % T == 0 || N >= 4 * T;  // at most a quarter of a sample's time waiting
  if (spec.reduce != Reduce::Group || N < T || !even) return false;
  DN_CHECK(io.x && io.y, "norm_forward: x and y are required");
  const ColumnGroupSums sums = allocate_column_group_sums(G, arena);
  Moments* stats = arena.allocate_array<Moments>(size_t(spec.stat_count()));
  float* mean_lo = arena.allocate_array<float>(size_t(spec.stat_count()));
  const AffineTable aff = make_affine(sh, io.gamma, io.beta, io.modulation, arena);
  const ChannelVectors V = allocate_channel_vectors(spec, io.dtype, arena);
  ApplyLayout L = channel_vectors_layout(sh, V, true);
  L.act = io.activation;
  L.residual = io.residual;
  const int64_t rows = L.rows / N, groups = G.groups;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    col_group_block_sums(io.dtype, io.x, G.layout, groups, n, spec.center, sums.shift, sums.part, sums.scratch);
    column_group_moments(G, sums, spec.center, n, n + 1, stats);
    for (int64_t k = n * groups; k < (n + 1) * groups; ++k)
      finish_moments(stats[k], spec.center, spec.eps, io.mean[k], io.rstd[k], mean_lo[k]);
    ApplyLayout sample = L;
    sample.vec_centred = fill_channel_vectors(spec, io.mean, mean_lo, io.rstd, aff, n, n + 1, V);
    apply_rows(io.dtype, io.x, io.y, sample, n * rows, (n + 1) * rows);
  }
  return true;
}
}  // namespace

void norm_detail::apply_stats(const NormSpec& spec, const ForwardIO& io, const float* mean_lo_in, Arena& arena) {
  check_io(spec, io.dtype, io.modulation);
  DN_CHECK(io.x && io.y && io.mean && io.rstd, "norm_apply: x, y, mean and rstd are required");
  apply(io.dtype, io.x, io.y, apply_layout(spec, io, mean_lo_in, arena));
}

void norm_detail::forward_observing_moments(const NormSpec& spec, const ForwardIO& io,
                                            const MomentsObserver& on_moments, Arena& arena) {
  check_io(spec, io.dtype, io.modulation);
  const int64_t K = spec.stat_count();
  ForwardIO with_stats = io;
  if (!with_stats.mean) with_stats.mean = arena.allocate_array<float>(size_t(K));
  if (!with_stats.rstd) with_stats.rstd = arena.allocate_array<float>(size_t(K));
  if (!on_moments && fused_forward_if_fits(spec, with_stats, arena)) return;
  if (const ColumnGroups G = column_groups_of(spec); G.groups > 0) {
    if (!on_moments && fused_column_group_forward_if_even(spec, with_stats, G, arena)) return;
    return column_group_forward(spec, with_stats, G, on_moments, arena);
  }
  Moments* stats = arena.allocate_array<Moments>(size_t(K));
  compute_moments(spec, io.dtype, io.x, stats, arena);
  if (on_moments) on_moments(stats);
  float* mean_lo = arena.allocate_array<float>(size_t(K));
  moments_to_stats(spec, stats, with_stats.mean, with_stats.rstd, mean_lo);
  apply_stats(spec, with_stats, mean_lo, arena);
}

void norm_forward(const NormSpec& spec, const ForwardIO& io, Arena& arena) {
  forward_observing_moments(spec, io, {}, arena);
}

void norm_apply(const NormSpec& spec, const ForwardIO& io, Arena& arena) { apply_stats(spec, io, nullptr, arena); }

// ---- backward -----------------------------------------------------------------------------

namespace {

// Parameter gradients from per-(n, c) sums A = Σdu, B = Σdu·x̂ (sums_stride 0: shared over
// n, i.e. already summed): dγ = Σn (1+s)·B, dβ = Σn (1+s)·A, dscale = γ·B + β·A, dshift = A.
void param_grads(const NormShape& sh, const BackwardIO& io, const double* A, const double* B, int64_t rows) {
  const int64_t C = sh.c;
  const Modulation& mod = io.modulation;
  if (io.dgamma || io.dbeta) {
    for (int64_t c = 0; c < C; ++c) {
      double dg = 0, db = 0;
      for (int64_t n = 0; n < rows; ++n) {
        const double s = mod.scale ? 1.0 + double(mod.scale[n * C + c]) : 1.0;
        dg += s * B[n * C + c];
        db += s * A[n * C + c];
      }
      if (io.dgamma) io.dgamma[c] = float(dg);
      if (io.dbeta) io.dbeta[c] = float(db);
    }
  }
  if (io.dscale || io.dshift) {
    for (int64_t n = 0; n < rows; ++n)
      for (int64_t c = 0; c < C; ++c) {
        const double g = io.gamma ? io.gamma[c] : 1.0, b = io.beta ? io.beta[c] : 0.0;
        if (io.dscale) io.dscale[n * C + c] = float(g * B[n * C + c] + b * A[n * C + c]);
        if (io.dshift) io.dshift[n * C + c] = float(A[n * C + c]);
      }
  }
}

// out[n·C + c] = per_stat[k] of each channel of `samples` samples (Group / Channel).
void per_channel(const NormSpec& spec, int64_t samples, const float* per_stat, float* out) {
  const int64_t C = spec.shape.c;
  for_each_channel_run(spec, 0, samples, [&](int64_t n, int64_t k, int64_t c0, int64_t c1) {
    std::fill(out + n * C + c0, out + n * C + c1, per_stat[k]);
  });
}

// The backward's per-(n, c) statistics m, m_lo, r and affine k, q of `samples` samples,
// in arrays from the arena.
struct ChannelGradRows {
  float *m, *mlo, *r, *k, *q;
};
ChannelGradRows channel_grad_rows(const NormSpec& spec, const BackwardIO& io, const float* mean_lo,
                                  const AffineTable& aff, int64_t samples, Arena& arena) {
  const int64_t C = spec.shape.c;
  const auto table = [&] { return arena.allocate_array<float>(size_t(samples * C)); };
  const ChannelGradRows rows{table(), table(), table(), table(), table()};
  per_channel(spec, samples, io.mean, rows.m);
  per_channel(spec, samples, mean_lo, rows.mlo);
  per_channel(spec, samples, io.rstd, rows.r);
  for (int64_t n = 0; n < samples; ++n) {
    std::copy(aff.k + n * aff.stride, aff.k + n * aff.stride + C, rows.k + n * C);
    std::copy(aff.q + n * aff.stride, aff.q + n * aff.stride + C, rows.q + n * C);
  }
  return rows;
}

// Per-statistic dx coefficients c1 = Σ k·A / count, c2 = Σ k·B / count from per-(n, c)
// sums (rows = N, or 1 when A/B are already summed over n for Reduce::Channel).
void group_coefficients(const NormSpec& spec, const AffineTable& aff, const double* A, const double* B,
                        int64_t rows, bool stats_constant, float* c1, float* c2, Arena& arena) {
  const int64_t K = spec.stat_count(), C = spec.shape.c;
  double* s1 = zeroed_doubles(arena, K);
  double* s2 = zeroed_doubles(arena, K);
  for_each_channel_run(spec, 0, rows, [&](int64_t n, int64_t k, int64_t c0, int64_t c1) {
    add_weighted_channel_sums(aff.k + n * aff.stride + c0, A + n * C + c0, B + n * C + c0, c1 - c0, s1[k], s2[k]);
  });
  const double count = double(spec.shape.numel()) / double(K);
  for (int64_t k = 0; k < K; ++k) dx_coefficients(s1[k], s2[k], count, spec.center, stats_constant, c1[k], c2[k]);
}

// A[b·C + c] = Σ_j part_a[(b·chunks + j)·C + c] over the row chunks j of each block b, in
// chunk order (so the sums do not depend on how the chunks were spread over threads);
// the same for B. A and B come from the arena. Partial: double, or float where a chunk's
// sums are fp32 anyway (half the bytes to pass from the threads to this one).
template <class Partial>
void sum_chunk_partials(int64_t blocks, int64_t chunks, int64_t C, const Partial* part_a, const Partial* part_b,
                        Arena& arena, double*& A, double*& B) {
  A = zeroed_doubles(arena, blocks * C);
  B = zeroed_doubles(arena, blocks * C);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t j = 0; j < chunks; ++j)
      for (int64_t c = 0; c < C; ++c) {
        A[b * C + c] += part_a[(b * chunks + j) * C + c];
        B[b * C + c] += part_b[(b * chunks + j) * C + c];
      }
}

// The low part of each statistic's mean, μ − mean (as the forward's apply uses it): x̂
// needs x − μ, and the fp32 mean is off by up to |μ|·2⁻²⁴, a relative error of x̂ of up to
// (|μ|/σ)·2⁻²⁴. Where every statistic is foldable (|μ| ≤ 4σ: at most 2.4e-7) it is
// ignored; otherwise μ is recomputed from x (one more read of x, only for data far from
// zero mean). Constant statistics (eval) are exact as given.
const float* mean_low_part(const NormSpec& spec, const BackwardIO& io, bool stats_constant, Arena& arena) {
  const int64_t K = spec.stat_count();
  float* lo = arena.allocate_array<float>(size_t(K));
  std::fill(lo, lo + K, 0.0f);
  if (stats_constant || !spec.center || every_stat_foldable(spec, io.mean, io.rstd)) return lo;
  Moments* stats = arena.allocate_array<Moments>(size_t(K));
  compute_moments(spec, io.dtype, io.x, stats, arena);
  for (int64_t k = 0; k < K; ++k) lo[k] = float(stats[k].mean - double(io.mean[k]));
  return lo;
}

// Bytes of x and dy (and SiLU's kept du) of one tile of the channels-last Group backward,
// which stay in a core's cache between its two passes: at most the L2 of a Zen 4/5 core.
// (2×320×64×64 bf16, whose narrowest tile takes 1.3 MB, was faster in two passes.)
constexpr int64_t kFusedTileBytes = int64_t(1) << 20;

// Groups per tile of the channels-last Group backward (0 = none fits): whole groups, in
// steps of the fewest groups that make a multiple of 16 columns (so that tiles meet at
// vector boundaries; one group where that step is wider than 256 columns), as many steps
// as stay within 256 columns and kFusedTileBytes (x and dy of `elem_bytes` each, and
// `kept_bytes` of SiLU's du, per element). Tiles of 80 columns were 8–24 % slower than of
// 160 to 240 (SD's shapes in cache; 2×640×32×32 fp32 even). A tile narrower than the rows
// must read runs of at least 256 bytes of each row: runs of 32 (1×512×128×128 bf16, 16
// columns) made the backward from DRAM 2.5× slower than two passes over whole rows.
int64_t col_group_tile(int64_t C, int64_t groups, int64_t rows, int64_t elem_bytes, int64_t kept_bytes) {
  constexpr int64_t kMaxCols = 256, kMinRunBytes = 256;
  const int64_t cpg = C / groups, base = 16 / std::gcd(cpg, int64_t(16));
  const int64_t step = std::min(groups, base * cpg <= kMaxCols ? base : 1);
  const auto fits = [&](int64_t t) {
    return (t == 1 || t * cpg <= kMaxCols) && rows * t * cpg * (2 * elem_bytes + kept_bytes) <= kFusedTileBytes;
  };
  if (!fits(step)) return 0;
  int64_t t = step;
  while (t + step <= groups && fits(t + step)) t += step;
  return t == groups || t * cpg * elem_bytes >= kMinRunBytes ? t : 0;
}

// What the fused Group backwards read to make their own per-row or per-column terms.
StatsAndAffine stats_and_affine(const BackwardIO& io, const float* mean_lo, const AffineTable& aff) {
  return {io.mean, mean_lo, io.rstd, aff.k, aff.q, aff.stride};
}

// The channels-last Group backward tile by tile (fused_col_group_backward), when a tile fits
// in kFusedTileBytes and there is a tile for every thread; A, B receive the column sums.
// Of V only the layout and act are set: each tile makes its own column vectors, from the
// statistics (mean_lo: their low parts) and the affine table.
bool fused_col_group_backward_if_fits(const NormSpec& spec, const BackwardIO& io, bool stats_constant,
                                      const float* mean_lo, const AffineTable& aff, bool fold, const ColVectors& V,
                                      Arena& arena, double*& A, double*& B) {
  const NormShape& sh = spec.shape;
  FusedColGrad F;
  F.groups = spec.groups;
  F.center = spec.center;
  F.stats_constant = stats_constant;
  F.terms = stats_and_affine(io, mean_lo, aff);
  F.fold = fold;
  const bool silu = io.activation == Activation::SiLU;
  F.du_in_dx = silu && io.dtype == DType::F32 && io.dx != io.x;
  const bool keep_du = silu && !F.du_in_dx;  // in the scratch
  F.tile_groups = col_group_tile(sh.c, spec.groups, sh.s, int64_t(dtype_size(io.dtype)), keep_du ? 4 : 0);
  if (F.tile_groups == 0) return false;
  const int64_t w = F.tile_groups * (sh.c / spec.groups), tiles = (F.groups + F.tile_groups - 1) / F.tile_groups;
  if (sh.n * tiles < max_threads()) return false;
  F.chunk_sums = arena.allocate_array<double>(size_t(max_threads() * 2 * w));
  F.scratch_floats = (kFusedColTermArrays * w + (keep_du ? sh.s * w : 0) + 15) / 16 * 16;  // 64-byte aligned
  F.scratch = arena.allocate_array<float>(size_t(max_threads() * F.scratch_floats));
  A = arena.allocate_array<double>(size_t(sh.n * sh.c));
  B = arena.allocate_array<double>(size_t(sh.n * sh.c));
  fused_col_group_backward(io.dtype, io.x, io.dy, io.dx, V, F, A, B);
  return true;
}

}  // namespace

void norm_backward(const NormSpec& spec, const BackwardIO& io_in, bool stats_constant, Arena& arena) {
  check_io(spec, io_in.dtype, io_in.modulation);
  DN_CHECK(io_in.x && io_in.dy && io_in.mean && io_in.rstd, "norm_backward: x, dy, mean and rstd are required");
  BackwardIO io = io_in;
  const NormShape& sh = spec.shape;
  const int64_t N = sh.n, C = sh.c, S = sh.s;
  if (!io.dx) io.dx = arena.allocate(std::size_t(sh.numel()) * dtype_size(io.dtype));
  const AffineTable aff = make_affine(sh, io.gamma, io.beta, io.modulation, arena);
  const bool want_params = io.dgamma || io.dbeta || io.dscale || io.dshift;
  const bool inner = channels_innermost(sh);
  const float* mean_lo = mean_low_part(spec, io, stats_constant, arena);

  if (spec.reduce == Reduce::Position) {
    DN_CHECK(!stats_constant, "norm_backward: Position statistics are always computed from x");
    if (inner) {
      const bool per_sample = io.modulation.active();
      RowStatsGrad G;
      G.rows = N * S;
      G.width = C;
      G.rows_per_block = per_sample ? S : N * S;
      G.vec_stride = aff.stride;
      G.chunk_rows = row_grad_chunk_rows(G.rows);
      G.m = io.mean;
      G.mlo = mean_lo;
      G.r = io.rstd;
      G.k = aff.k;
      G.q = aff.q;
      G.act = io.activation;
      G.center = spec.center;
      G.eps = spec.eps;
      const int64_t blocks = G.rows / G.rows_per_block, cpb = G.chunks_per_block();
      float* part_du = want_params ? arena.allocate_array<float>(size_t(blocks * cpb * C)) : nullptr;
      float* part_dux = want_params ? arena.allocate_array<float>(size_t(blocks * cpb * C)) : nullptr;
      float* scratch = arena.allocate_array<float>(size_t(max_threads() * 6 * C));
      row_stats_backward(io.dtype, io.x, io.dy, io.dx, G, part_du, part_dux, scratch);
      if (want_params) {
        double *A, *B;
        sum_chunk_partials(blocks, cpb, C, part_du, part_dux, arena, A, B);
        param_grads(sh, io, A, B, blocks);
      }
    } else {
      ColStatsGrad G;
      G.blocks = N;
      G.rows = C;
      G.width = S;
      G.k_stride = aff.stride;
      G.m = io.mean;
      G.mlo = mean_lo;
      G.r = io.rstd;
      G.k = aff.k;
      G.q = aff.q;
      G.act = io.activation;
      G.center = spec.center;
      double* A = want_params ? arena.allocate_array<double>(size_t(N * C)) : nullptr;
      double* B = want_params ? arena.allocate_array<double>(size_t(N * C)) : nullptr;
      float* scratch = arena.allocate_array<float>(size_t(max_threads() * 2 * kColChunk));
      col_stats_backward(io.dtype, io.x, io.dy, io.dx, G, A, B, scratch, arena);
      if (want_params) param_grads(sh, io, A, B, N);
    }
    return;
  }

  const int64_t K = spec.stat_count();
  float* c1 = arena.allocate_array<float>(size_t(K));
  float* c2 = arena.allocate_array<float>(size_t(K));
  if (!inner) {  // rows (n, c) of S
    RowScalars R{N * C, S, nullptr, nullptr, nullptr, nullptr, nullptr, io.activation, spec.eps};
    double* A = arena.allocate_array<double>(size_t(N * C));
    double* B = arena.allocate_array<double>(size_t(N * C));
    const int64_t span = sh.numel() / K;  // of each of x and dy
    if (spec.reduce == Reduce::Group && 2 * span * int64_t(dtype_size(io.dtype)) <= kFusedSpanBytes &&
        K >= max_threads()) {
      FusedGrad F{C / spec.groups, spec.center, stats_constant, stats_and_affine(io, mean_lo, aff), C};
      if (io.activation == Activation::SiLU && max_threads() * span <= kept_du_floats)
        F.du_scratch = arena.allocate_array<float>(size_t(max_threads() * span));
      fused_row_backward(io.dtype, io.x, io.dy, io.dx, R, F, A, B);
      if (want_params) param_grads(sh, io, A, B, N);
      return;
    }
    const ChannelGradRows rows = channel_grad_rows(spec, io, mean_lo, aff, N, arena);
    R.m = rows.m, R.mlo = rows.mlo, R.r = rows.r, R.k = rows.k, R.q = rows.q;
    row_grad_sums(io.dtype, io.x, io.dy, R, A, B);
    group_coefficients(spec, aff, A, B, N, stats_constant, c1, c2, arena);
    float* rc1 = arena.allocate_array<float>(size_t(N * C));
    float* rc2 = arena.allocate_array<float>(size_t(N * C));
    per_channel(spec, N, c1, rc1);
    per_channel(spec, N, c2, rc2);
    row_grad_dx(io.dtype, io.x, io.dy, io.dx, R, rc1, rc2);
    if (want_params) param_grads(sh, io, A, B, N);
    return;
  }

  // Channels innermost, Group or Channel: column sums per block (sample, or all rows).
  const bool shared = spec.reduce == Reduce::Channel;
  const int64_t blocks = shared ? 1 : N;
  ColVectors V;
  // Work items of ≥ 64 rows and ~32K elements: few partial sums to add up.
  V.layout = {blocks, shared ? N * S : S, C, std::max<int64_t>(64, 32768 / C)};
  V.act = io.activation;
  // Where every statistic folds (see foldable): x̂ = x·r + b′, u = x·a + b and dx =
  // r·(k·du − c1 − x̂·c2) as p·du + q·x + o, each term from x by one FMA.
  const bool fold = every_stat_foldable(spec, io.mean, io.rstd);
  double *A, *B;
  if (!shared && fused_col_group_backward_if_fits(spec, io, stats_constant, mean_lo, aff, fold, V, arena, A, B)) {
    if (want_params) param_grads(sh, io, A, B, blocks);
    return;
  }
  const auto [m, mlo, r, k, q] = channel_grad_rows(spec, io, mean_lo, aff, blocks, arena);
  V.m = m;
  V.mlo = mlo;
  V.r = r;
  V.k = k;
  V.q = q;
  if (fold) {
    float* xh_shift = arena.allocate_array<float>(size_t(blocks * C));
    float* u_scale = arena.allocate_array<float>(size_t(blocks * C));
    float* u_shift = arena.allocate_array<float>(size_t(blocks * C));
    for (int64_t i = 0; i < blocks * C; ++i)
      folded_col_terms(m[i], mlo[i], r[i], k[i], q[i], xh_shift[i], u_scale[i], u_shift[i]);
    V.xh_shift = xh_shift;
    V.u_scale = u_scale;
    V.u_shift = u_shift;
  }
  if (io.activation == Activation::SiLU && sh.numel() <= kept_du_floats)
    V.du = arena.allocate_array<float>(size_t(sh.numel()));
  // Not for 16-bit data with SiLU: there SiLU' bounds the sums, and the accumulators' L1
  // traffic cost more than the walk in memory order saved (BENCHMARKS.md, session 13).
  V.rows_in_order = 2 * sh.numel() * int64_t(dtype_size(io.dtype)) >= beyond_cache_bytes &&
                    !(io.activation == Activation::SiLU && dtype_size(io.dtype) == 2);
  const int64_t chunks = V.layout.chunks();
  double* pdu = arena.allocate_array<double>(size_t(blocks * chunks * C));
  double* pdux = arena.allocate_array<double>(size_t(blocks * chunks * C));
  col_grad_sums(io.dtype, io.x, io.dy, V, pdu, pdux);
  sum_chunk_partials(blocks, chunks, C, pdu, pdux, arena, A, B);
  group_coefficients(spec, aff, A, B, blocks, stats_constant, c1, c2, arena);
  float* vc1 = arena.allocate_array<float>(size_t(blocks * C));
  float* vc2 = arena.allocate_array<float>(size_t(blocks * C));
  per_channel(spec, blocks, c1, vc1);
  per_channel(spec, blocks, c2, vc2);
  // The dx pass on joined rows (see joined_rows); du, if kept, has x's layout.
  const int64_t join = joined_rows(C, V.layout.rows, io.dtype);
  ColVectors J = V;
  J.layout.rows = V.layout.rows / join;
  J.layout.width = join * C;
  const auto joined = [&](const float* v) { return repeat_rows(v, blocks, C, join, arena); };
  if (fold) {
    float* p = arena.allocate_array<float>(size_t(blocks * C));
    float* qx = arena.allocate_array<float>(size_t(blocks * C));
    float* o = arena.allocate_array<float>(size_t(blocks * C));
    for (int64_t i = 0; i < blocks * C; ++i)
      folded_dx_terms(r[i], k[i], m[i], mlo[i], vc1[i], vc2[i], p[i], qx[i], o[i]);
    FoldedDx f{joined(p), joined(qx), joined(o)};
    if (io.activation == Activation::SiLU) {
      if (V.du) f.du = V.du;
      else f.u_shift = joined(V.u_shift);
    }
    col_grad_dx_folded(io.dtype, io.x, io.dy, io.dx, J.layout, f);
  } else {
    J.m = joined(m);
    J.mlo = joined(mlo);
    J.r = joined(r);
    J.k = joined(k);
    J.q = joined(q);
    col_grad_dx(io.dtype, io.x, io.dy, io.dx, J, joined(vc1), joined(vc2));
  }
  if (want_params) param_grads(sh, io, A, B, blocks);
}

}  // namespace diffnorm
