// numpy's and torch's range constructors, reproduced to the last bit, because diffusers builds
// its timestep and beta schedules with them and the schedules are compared exactly.
#pragma once

#include <cstdint>
#include <vector>

namespace diffnorm {

/// numpy.linspace(start, stop, count) in float64: start + i * ((stop - start) / (count - 1)),
/// the last value exactly `stop`; count == 1 gives {start}.
std::vector<double> numpy_linspace(double start, double stop, int count);

/// numpy.arange(start, stop, step) in float64 for a float step: ceil((stop - start) / step)
/// values start + i * ((start + step) - start) (numpy's fill rule).
std::vector<double> numpy_arange(double start, double stop, double step);

/// numpy.round / torch.round: to nearest, ties to even.
double round_half_even(double x);

/// torch.linspace(start, end, steps, dtype=float32) on CPU with AVX2 kernels: float32
/// arithmetic (multiply-adds fused), vectors of 8 built from a base as base + k*step, the first
/// half counted from `start`, the second half from `end`, a scalar tail for the last
/// steps % 16 values.
std::vector<float> torch_linspace_f32(double start, double end, int64_t steps);

}  // namespace diffnorm
