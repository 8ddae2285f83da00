// attention against a float64 libtorch reference written out by hand (per head:
// softmax(q k^T * dh^-0.5, masked) v).
//
// Tolerance, per output element, relative to m = sum_j p_j |v_j| (p: reference softmax):
// each score carries ~sqrt(dh)*eps32*S rounding error (S = the largest dh^-0.5*sum|q||k|),
// which perturbs each p_j relatively by about that (plus 1 ulp of exp), moving the output
// by at most twice that times m; the softmax sum and the P V product add sqrt(Tk)*eps32*m
// each. Allowed: 4*eps32*(sqrt(dh)*S + 2*sqrt(Tk) + 4) * m.
#include "ops/attention.h"

#include <omp.h>

#include "diffnorm/error.h"
#include "oracle.h"

namespace diffnorm::ops::test {
namespace {

struct Reference {
  torch::Tensor out, magnitude;
  double score_magnitude;
};

// q [B, Tq, H*dh] (float64 torch), rows: the query rows to evaluate.
Reference reference(torch::Tensor q, const torch::Tensor& k, const torch::Tensor& v, int64_t heads, bool causal,
                    const torch::Tensor& rows) {
  const int64_t b = q.size(0), tq = q.size(1), c = q.size(2), tk = k.size(1), dh = c / heads;
  q = q.index_select(1, rows);
  const auto split = [&](const torch::Tensor& t) { return t.view({b, t.size(1), heads, dh}).permute({0, 2, 1, 3}); };
  const double scale = 1.0 / std::sqrt(double(dh));
  torch::Tensor s = torch::matmul(split(q), split(k).transpose(2, 3)) * scale;  // [B, H, rows, Tk]
  const torch::Tensor s_abs = torch::matmul(split(q).abs(), split(k).abs().transpose(2, 3)) * scale;
  if (causal) {
    const torch::Tensor keep = torch::tril(torch::ones({tq, tk}, torch::kBool)).index_select(0, rows);
    s = s.masked_fill(keep.logical_not(), -std::numeric_limits<double>::infinity());
  }
  const torch::Tensor p = torch::softmax(s, -1);
  const auto merge = [&](const torch::Tensor& t) { return t.permute({0, 2, 1, 3}).reshape({b, rows.size(0), c}); };
  return {merge(torch::matmul(p, split(v))), merge(torch::matmul(p, split(v).abs())), s_abs.max().item<double>()};
}

void run_case(int64_t b, int64_t tq, int64_t tk, int64_t heads, int64_t dh, bool causal) {
  SCOPED_TRACE("B" + std::to_string(b) + " Tq" + std::to_string(tq) + " Tk" + std::to_string(tk) + " H" +
               std::to_string(heads) + " dh" + std::to_string(dh) + (causal ? " causal" : ""));
  const Tensor q = random_tensor({b, tq, heads * dh});
  const Tensor k = random_tensor({b, tk, heads * dh});
  const Tensor v = random_tensor({b, tk, heads * dh});
  Tensor out = poisoned(q.shape());
  attention(q, k, v, out, {heads, causal});
  const Reference ref =
      reference(to_torch64(q), to_torch64(k), to_torch64(v), heads, causal, torch::arange(tq, torch::kLong));
  const double tol = 4 * kEps32 * (std::sqrt(double(dh)) * ref.score_magnitude + 2 * std::sqrt(double(tk)) + 4);
  expect_close(out, ref.out, ref.magnitude, tol, "attention");
}

TEST(Attention, MatchesTorchOnRandomShapes) {
  for (int trial = 0; trial < 12; ++trial) {
    run_case(trial % 2 ? 3 : 1, rand_int(1, 150), rand_int(1, 150), rand_int(1, 5), rand_int(1, 24), false);
  }
}

TEST(Attention, CrossAttentionWithTextKeys) {
  run_case(2, 300, 77, 8, 5, false);  // several query blocks, Tq != Tk
  run_case(1, 17, 77, 3, 40, false);
}

TEST(Attention, CausalMask) {
  run_case(1, 77, 77, 4, 8, true);
  run_case(3, 13, 13, 2, 7, true);
  run_case(1, 600, 600, 2, 3, true);  // more than one query block
  run_case(2, 5, 9, 1, 4, true);      // Tq != Tk: top-left aligned like torch.tril
}

TEST(Attention, SingleKeyAndSingleQuery) {
  run_case(1, 1, 1, 1, 1, false);
  run_case(3, 1, 40, 2, 16, false);
  run_case(3, 40, 1, 2, 16, false);
}

TEST(Attention, ScratchIsBoundedAt4096Tokens) {
  // SD1.5 level 0 at 512x512: 4096 tokens, 8 heads of 40. The full score matrix of the
  // heads would be 8 * 4096 * 4096 * 4 B = 512 MiB; the kernel keeps one block per thread.
  const int64_t tokens = 4096, heads = 8, dh = 40;
  const Tensor q = random_tensor({1, tokens, heads * dh});
  const Tensor k = random_tensor({1, tokens, heads * dh});
  const Tensor v = random_tensor({1, tokens, heads * dh});
  Tensor out = poisoned(q.shape());
  Arena arena;
  attention(q, k, v, out, {heads, false}, &arena);
  const int threads = omp_get_max_threads();
  EXPECT_LE(arena.peak(), attention_scratch_bytes(tokens, threads));
  EXPECT_LE(attention_scratch_bytes(tokens, threads), std::size_t(threads) * ((1u << 20) + (64u << 10)))
      << "more than 1 MiB of scores (+ slack) per thread";
  // Spot-check rows at block boundaries and the last row against the reference.
  const int64_t block = attention_block_rows(tokens);
  const torch::Tensor rows = torch::tensor({int64_t{0}, block - 1, block, 2 * block + 3, tokens - 1}, torch::kLong);
  const Reference ref = reference(to_torch64(q), to_torch64(k), to_torch64(v), heads, false, rows);
  const Tensor got = from_torch(to_torch64(out).index_select(1, rows));
  const double tol = 4 * kEps32 * (std::sqrt(double(dh)) * ref.score_magnitude + 2 * std::sqrt(double(tokens)) + 4);
  expect_close(got, ref.out, ref.magnitude, tol, "attention at 4096 tokens");
}

TEST(Attention, AcceptsSlicesOfAFusedQkvProjection) {
  const int64_t b = 2, t = 45, heads = 3, dh = 7, c = heads * dh;
  const Tensor qkv = random_tensor({b, t, 3 * c});
  const Tensor q = qkv.narrow(2, 0, c), k = qkv.narrow(2, c, c), v = qkv.narrow(2, 2 * c, c);
  Tensor out = poisoned({b, t, c});
  attention(q, k, v, out, {heads, true});
  const Reference ref = reference(to_torch64(q), to_torch64(k), to_torch64(v), heads, true, torch::arange(t, torch::kLong));
  const double tol = 4 * kEps32 * (std::sqrt(double(dh)) * ref.score_magnitude + 2 * std::sqrt(double(t)) + 4);
  expect_close(out, ref.out, ref.magnitude, tol, "attention on qkv slices");
}

TEST(Attention, RejectsMismatchedShapes) {
  const Tensor q = random_tensor({2, 5, 12});
  EXPECT_THROW(attention(q, random_tensor({2, 7, 12}), random_tensor({2, 7, 8}), {3, false}), Error);
  EXPECT_THROW(attention(q, random_tensor({1, 7, 12}), random_tensor({1, 7, 12}), {3, false}), Error);
  EXPECT_THROW(attention(q, random_tensor({2, 7, 12}), random_tensor({2, 7, 12}), {5, false}), Error);
  Tensor wrong_out = Tensor::empty({2, 5, 11});
  EXPECT_THROW(attention(q, q, q, wrong_out, {3, false}), Error);
  const Tensor channels_strided = random_tensor({2, 12, 5}).permute({0, 2, 1});
  EXPECT_THROW(attention(channels_strided, q, q, {3, false}), Error);
}

}  // namespace
}  // namespace diffnorm::ops::test
