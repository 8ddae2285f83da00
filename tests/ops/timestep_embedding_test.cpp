// timestep_embedding against (1) diffusers' get_timestep_embedding replayed in libtorch
// float32 (the function the fixtures come from): equal up to the 1-ulp difference between
// SLEEF's and glibc's sin/cos, i.e. |err| <= 2 eps32; (2) the exact sinusoid in float64:
// |err| <= 4 eps32 (|arg| + 1), the float32 rounding of the argument (~|arg| eps32 / 2 from
// the product, a few ulp from the frequency) carried through sin/cos.
#include "ops/timestep_embedding.h"

#include <cmath>

#include "diffnorm/error.h"
#include "oracle.h"

namespace diffnorm::ops::test {
namespace {

// diffusers.models.embeddings.get_timestep_embedding (0.23), in float32 like the original.
torch::Tensor diffusers_float32(const torch::Tensor& t, int64_t dim, const TimestepEmbeddingOptions& o) {
  const int64_t half = dim / 2;
  torch::Tensor exponent = -std::log(o.max_period) * torch::arange(0, half, torch::kFloat32);
  exponent = exponent / (double(half) - o.freq_shift);
  torch::Tensor emb = t.unsqueeze(1).to(torch::kFloat32) * torch::exp(exponent).unsqueeze(0);
  emb = o.scale * emb;
  emb = torch::cat({torch::sin(emb), torch::cos(emb)}, -1);
  if (o.flip_sin_to_cos) emb = torch::cat({emb.slice(1, half), emb.slice(1, 0, half)}, -1);
  if (dim % 2 == 1) emb = torch::constant_pad_nd(emb, {0, 1, 0, 0});
  return emb;
}

torch::Tensor exact_float64(const torch::Tensor& t, int64_t dim, const TimestepEmbeddingOptions& o) {
  const int64_t half = dim / 2;
  const torch::Tensor freq =
      torch::exp(-std::log(o.max_period) * torch::arange(0, half, torch::kFloat64) / (double(half) - o.freq_shift));
  const torch::Tensor arg = o.scale * t.to(torch::kFloat64).unsqueeze(1) * freq.unsqueeze(0);
  torch::Tensor emb = o.flip_sin_to_cos ? torch::cat({torch::cos(arg), torch::sin(arg)}, -1)
                                        : torch::cat({torch::sin(arg), torch::cos(arg)}, -1);
  if (dim % 2 == 1) emb = torch::constant_pad_nd(emb, {0, 1, 0, 0});
  return emb;
}

void run_case(const std::vector<float>& steps, int64_t dim, const TimestepEmbeddingOptions& o) {
  SCOPED_TRACE("dim " + std::to_string(dim) + " flip " + std::to_string(o.flip_sin_to_cos) + " shift " +
               std::to_string(o.freq_shift));
  const Tensor t = Tensor::from_vector({int64_t(steps.size())}, steps);
  const Tensor emb = timestep_embedding(t, dim, o);
  const torch::Tensor t32 = to_torch64(t).to(torch::kFloat32);
  const torch::Tensor ones = torch::ones({1}, torch::kFloat64);
  expect_close(emb, diffusers_float32(t32, dim, o).to(torch::kFloat64), ones, 2 * kEps32, "vs diffusers float32");
  const torch::Tensor arg_bound = (o.scale * to_torch64(t).abs().max() + 1).expand({1});
  expect_close(emb, exact_float64(t32, dim, o), arg_bound, 4 * kEps32, "vs exact float64");
}

TEST(TimestepEmbedding, MatchesDiffusersFloat32) {
  const std::vector<float> steps = {0.0f, 1.0f, 999.0f, 500.5f, 981.0f, 1024.0f, 0.25f, 3.0f};
  run_case(steps, 320, {});                       // SD1.5 / SD2.1 time_proj
  run_case(steps, 256, {});                       // SDXL add_time_proj (time ids)
  run_case(steps, 32, {});                        // sd15-tiny
  run_case(steps, 33, {});                        // odd dim: zero pad column
  run_case(steps, 64, {false, 1.0, 1.0, 10000});  // sin first, freq_shift 1
  run_case(steps, 10, {true, 0.0, 2.5, 500});     // scale and max_period
}

TEST(TimestepEmbedding, RejectsBadArguments) {
  const Tensor t = Tensor::from_vector({2}, {1.0f, 2.0f});
  EXPECT_THROW(timestep_embedding(t, 1), Error);
  EXPECT_THROW(timestep_embedding(Tensor::from_vector({1, 2}, {1.0f, 2.0f}), 8), Error);
  EXPECT_THROW(timestep_embedding(t, 2, {true, 1.0, 1.0, 10000}), Error);  // half == freq_shift
}

}  // namespace
}  // namespace diffnorm::ops::test
