// Multi-head scaled dot-product attention (the attention of diffusers' Attention
// processor and CLIP), memory-bounded.
//
//   out[b, i, h*dh + d] = sum_j softmax_j(s_ij) * v[b, j, h*dh + d],
//   s_ij = dh^-0.5 * sum_d q[b, i, h*dh + d] * k[b, j, h*dh + d]
//
// q [B, Tq, H*dh], k and v [B, Tk, H*dh], out [B, Tq, H*dh], f32, heads interleaved on
// the channel axis (channel = h*dh + d, as diffusers reshapes them). Channels must be
// contiguous; token and batch strides are free, so q, k, v may be slices of one fused
// [B, T, 3*H*dh] projection (Tensor::narrow on the last dim).
// With `causal`, query i sees keys j <= i only (CLIP's mask; torch.tril(ones(Tq, Tk))).
// The softmax is taken in fp32 with the row maximum subtracted.
//
// The Tq x Tk score matrix is never held for all heads: work is split into query
// blocks of at most attention_block_rows(Tk) rows per (batch, head), run in parallel,
// and each thread keeps one block of scores, so the scratch is
// attention_scratch_bytes(Tk, threads) — independent of Tq, B and H.
#pragma once

#include <cstddef>
#include <cstdint>

#include "diffnorm/arena.h"
#include "diffnorm/tensor.h"

namespace diffnorm::ops {

struct AttentionOptions {
  int64_t heads = 1;
  bool causal = false;
};

/// Query rows per block for Tk keys: one block of scores fits a core's L2 (~1 MiB).
int64_t attention_block_rows(int64_t keys);
/// The scratch one call requests from its arena with `threads` OpenMP threads.
std::size_t attention_scratch_bytes(int64_t keys, int threads);

/// out = attention(q, k, v). Scratch comes from `scratch` when given (reset by the caller),
/// otherwise from a per-thread arena kept between calls.
void attention(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out, const AttentionOptions& options,
               Arena* scratch = nullptr);
/// A new out.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options);

}  // namespace diffnorm::ops
