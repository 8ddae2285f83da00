#include "ops/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include <oneapi/dnnl/dnnl.h>

#include "core/check.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/attention.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace diffnorm::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One row of scores in place: row[j] = exp(row[j] - max) for j < valid, 0 for
// valid <= j < total. Returns the sum of the exponentials (>= 1: the max term is 1).
HWY_INLINE float SoftmaxNumerator(float* row, size_t valid, size_t total) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  auto vmax = hn::Set(d, -HUGE_VALF);
  size_t j = 0;
  for (; j + lanes <= valid; j += lanes) vmax = hn::Max(vmax, hn::LoadU(d, row + j));
  float m = hn::GetLane(hn::MaxOfLanes(d, vmax));
  for (size_t t = j; t < valid; ++t) m = std::max(m, row[t]);

  const auto vm = hn::Set(d, m);
  auto vsum = hn::Zero(d);
  j = 0;
  for (; j + lanes <= valid; j += lanes) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, row + j), vm));
    hn::StoreU(e, d, row + j);
    vsum = hn::Add(vsum, e);
  }
  if (j < valid) {  // tail: padded lanes hold -inf and contribute exp(-inf) = 0
    HWY_ALIGN float buf[hn::MaxLanes(d)];
    std::fill_n(buf, lanes, -HUGE_VALF);
    std::copy(row + j, row + valid, buf);
    const auto e = hn::Exp(d, hn::Sub(hn::Load(d, buf), vm));
    hn::Store(e, d, buf);
    std::copy(buf, buf + (valid - j), row + j);
    vsum = hn::Add(vsum, hn::IfThenElseZero(hn::FirstN(d, valid - j), e));
  }
  std::fill(row + valid, row + total, 0.0f);
  return hn::GetLane(hn::SumOfLanes(d, vsum));
}

// A block of score rows [rows, keys] (row stride ld) in place: the softmax numerators,
// and inv_sum[r] = 1 / (row r's sum). Causal: row r (query row0 + r) keeps keys <= row0 + r.
void SoftmaxBlock(float* scores, size_t ld, size_t rows, size_t keys, size_t row0, bool causal, float* inv_sum) {
  for (size_t r = 0; r < rows; ++r) {
    const size_t valid = causal ? std::min(keys, row0 + r + 1) : keys;
    inv_sum[r] = 1.0f / SoftmaxNumerator(scores + r * ld, valid, keys);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace diffnorm::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace diffnorm::ops {
HWY_EXPORT(SoftmaxBlock);

int64_t attention_block_rows(int64_t keys) {
  // 256 Ki floats = 1 MiB of scores per block, between 16 and 256 rows.
  return std::clamp<int64_t>((int64_t{1} << 18) / std::max<int64_t>(keys, 1), 16, 256);
}

namespace {

// Scores padded to a multiple of 16 floats per row (64-byte rows).
int64_t padded_keys(int64_t keys) { return (keys + 15) / 16 * 16; }

// Per thread: a block of scores [rows, padded_keys] and the rows' 1/sum.
std::size_t per_thread_floats(int64_t keys) {
  const int64_t rows = attention_block_rows(keys);
  return std::size_t(rows * padded_keys(keys) + padded_keys(rows));
}

}  // namespace

std::size_t attention_scratch_bytes(int64_t keys, int threads) {
  return std::size_t(threads) * per_thread_floats(keys) * sizeof(float);
}

void attention(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out, const AttentionOptions& options,
               Arena* scratch) {
  for (auto [t, name] : {std::pair{&q, "q"}, {&k, "k"}, {&v, "v"}, {&out, "out"}}) {
    DN_CHECK(t->dtype() == DType::F32 && t->dim() == 3 && (t->size(2) <= 1 || t->strides()[2] == 1) &&
                 (t->size(1) <= 1 || t->strides()[1] >= t->size(2)),
             "attention: {} must be f32 [B, T, H*dh] with contiguous, non-overlapping tokens, got {} (strides {})", name,
             t->describe(), shape_str(t->strides()));
  }
  const int64_t batch = q.size(0), tq = q.size(1), channels = q.size(2), tk = k.size(1);
  DN_CHECK(k.shape() == v.shape() && k.size(0) == batch && k.size(2) == channels,
           "attention: k and v must be [{}, Tk, {}] like q {}, got k {} v {}", batch, channels, q.describe(),
           k.describe(), v.describe());
  DN_CHECK(out.shape() == q.shape(), "attention: out must be {} like q, got {}", shape_str(q.shape()),
           out.describe());
  const int64_t heads = options.heads;
  DN_CHECK(heads >= 1 && channels % heads == 0, "attention: {} channels do not split into {} heads", channels,
           heads);
  DN_CHECK(tk >= 1 || tq == 0, "attention: no keys (k {})", k.describe());
  if (q.numel() == 0) return;

  const int64_t head_dim = channels / heads;
  const float scale = float(1.0 / std::sqrt(double(head_dim)));  // diffusers: float(dh ** -0.5)
  const int64_t rows_per_block = attention_block_rows(tk);
  const int64_t blocks = (tq + rows_per_block - 1) / rows_per_block;
  const int64_t ld_scores = padded_keys(tk);
  const int threads = omp_get_max_threads();

  thread_local Arena own_arena;
  Arena& arena = scratch ? *scratch : own_arena;
  if (!scratch) own_arena.reset();
  float* const scratch_base = arena.allocate_array<float>(attention_scratch_bytes(tk, threads) / sizeof(float));

  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  float* op = out.data<float>();
  // Token (row) and batch strides, in floats: views such as slices of a fused QKV projection work.
  const int64_t q_ld = q.strides()[1], k_ld = k.strides()[1], v_ld = v.strides()[1], o_ld = out.strides()[1];
  const int64_t q_bs = q.strides()[0], k_bs = k.strides()[0], v_bs = v.strides()[0], o_bs = out.strides()[0];
  const int64_t tasks = batch * heads * blocks;

#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t block = task % blocks, bh = task / blocks;
    const int64_t b = bh / heads, h = bh % heads;
    const int64_t row0 = block * rows_per_block;
    const int64_t rows = std::min(rows_per_block, tq - row0);
    // Causal: the block's last row sees keys [0, row0 + rows); later keys are never read.
    const int64_t keys = options.causal ? std::min(tk, row0 + rows) : tk;

    float* scores = scratch_base + std::size_t(omp_get_thread_num()) * per_thread_floats(tk);
    float* inv_sum = scores + rows_per_block * ld_scores;
    const float* qb = qp + b * q_bs + row0 * q_ld + h * head_dim;
    const float* kb = kp + b * k_bs + h * head_dim;
    const float* vb = vp + b * v_bs + h * head_dim;
    float* ob = op + b * o_bs + row0 * o_ld + h * head_dim;

    // scores = scale * Q_block K^T   ([rows, dh] x [dh, keys]; rows at the token strides)
    dnnl_sgemm('N', 'T', rows, keys, head_dim, scale, qb, q_ld, kb, k_ld, 0.0f, scores, ld_scores);
    HWY_DYNAMIC_DISPATCH(SoftmaxBlock)(scores, size_t(ld_scores), size_t(rows), size_t(keys), size_t(row0),
                                       options.causal, inv_sum);
    // out_block = P V, then each row divided by its softmax denominator.
    dnnl_sgemm('N', 'N', rows, head_dim, keys, 1.0f, scores, ld_scores, vb, v_ld, 0.0f, ob, o_ld);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t d = 0; d < head_dim; ++d) ob[r * o_ld + d] *= inv_sum[r];
  }
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
  Tensor out = Tensor::empty(q.shape());
  attention(q, k, v, out, options);
  return out;
}

}  // namespace diffnorm::ops
#endif
