// TorchGenerator: torch's CPU generator (torch 1.13, `torch.Generator('cpu')`), reproduced
// bit-exactly, so that a seed gives the same initial latents and sampler noise as diffusers.
//
//   engine     std::mt19937 seeded with seed mod 2^32 (+ a cached normal for the scalar path)
//   rand       float32 uniform = (word & 0xFFFFFF) * 2^-24
//   randn      numel >= 16: vectorised Box-Muller over blocks of 16 uniforms with torch's AVX2
//              float32 Cephes log/sincos (with FMA); the last partial block is recomputed from
//              16 fresh uniforms. numel < 16: scalar double Box-Muller, one value cached.
// The state persists across draws exactly like torch's (see shared/fixtures/rng/README.md).
#pragma once

#include <cstdint>
#include <optional>
#include <random>

#include "diffnorm/tensor.h"

namespace diffnorm {

class TorchGenerator {
 public:
  /// torch's default seed when none is given (c10::default_rng_seed_val).
  static constexpr uint64_t kDefaultSeed = 67280421310721ull;

  explicit TorchGenerator(uint64_t seed = kDefaultSeed) { manual_seed(seed); }

  /// Re-seeds the engine with the low 32 bits of `seed` and clears the cached normal.
  void manual_seed(uint64_t seed);

  /// Standard normal float32 tensor of `shape` (torch.randn(shape, generator=g)).
  Tensor randn(const Shape& shape);
  /// Uniform [0, 1) float32 tensor of `shape` (torch.rand(shape, generator=g)).
  Tensor rand(const Shape& shape);

  /// The next raw 32-bit engine word.
  uint32_t random() { return uint32_t(engine_()); }
  /// Two words, the first in the high half (torch's random64).
  uint64_t random64();
  /// Uniform float32 in [0, 1) from 24 bits of one word.
  float uniform_float();
  /// Uniform double in [0, 1) from 53 bits of two words.
  double uniform_double();
  /// One standard normal double from the scalar path (uses and refills the cache).
  double normal_double();

 private:
  void fill_normal_vectorised(float* out, int64_t n);

  std::mt19937 engine_;
  std::optional<double> cached_normal_;  // the sin half of the last scalar Box-Muller pair
};

}  // namespace diffnorm
