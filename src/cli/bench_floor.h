// The floor of a two-pass normalization forward, a baseline of `bench norm` beside the
// copy and the read: per span of contiguous values (a LayerNorm row, a channels-first
// GroupNorm group or InstanceNorm channel), the statistics as plain fp32 lane sums Σx and
// Σx² (no shift, no double: wrong where the mean is far from the spread, so a floor and
// not a kernel), then y = x·a + b from cache, with the layer's affine terms and correct
// bf16 rounding; LayerNorm rows pipelined (the apply of a row with the sums of the next).
// Any forward must read each value before its statistic is known and again to write y,
// so where this floor misses a "% of copy" target, a better kernel of the same passes
// is not likely to meet it; where the layer is slower than the floor, there is room.
#pragma once

#include <cstdint>

#include "diffnorm/dtype.h"

namespace diffnorm::cli {

/// `spans` spans of `runs` × `run` values. Rows (LayerNorm): runs = 1 and the affine terms
/// are per value of the row, gamma/beta [run]. Channel runs (channels-first GroupNorm and
/// InstanceNorm): a run is one channel's `run` positions, span k holds channels
/// (k % (channels / runs))·runs + j, gamma/beta [channels].
struct FloorShape {
  int64_t spans = 0, runs = 1, run = 0;
  int64_t channels = 0;  // channel runs only
  bool rows = true;
};

/// Whether the floor kernels take this shape (runs of whole 64-value blocks).
bool floor_supports(const FloorShape& shape);

/// y = (x − m)·r·γ + β per span; x, y in `dtype` (F32 or BF16). Channel runs take null
/// gamma/beta as 1/0 (InstanceNorm without affine); rows need both.
void floor_forward(DType dtype, const FloorShape& shape, const void* x, void* y, const float* gamma,
                   const float* beta);

}  // namespace diffnorm::cli
