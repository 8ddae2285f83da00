// RMSNorm (torch.nn.RMSNorm): y = x·rsqrt(mean(x²) + eps)·w over the last dim, in fp32.
#include <limits>

#include "diffnorm/norm.h"

namespace diffnorm {

static NormSpec rms_spec(int64_t rows, int64_t dim, std::optional<float> eps) {
  NormSpec spec;
  spec.shape = {rows, dim, 1, Layout::NHWC};
  spec.reduce = Reduce::Position;
  spec.center = false;
  // nn.RMSNorm(eps=None) uses torch.finfo(x.dtype).eps; statistics are fp32 here.
  spec.eps = eps.value_or(std::numeric_limits<float>::epsilon());
  return spec;
}

void rms_norm_forward(int64_t rows, int64_t dim, std::optional<float> eps, const ForwardIO& io, Arena& arena) {
  ForwardIO weight_only = io;
  weight_only.beta = nullptr;
  weight_only.modulation = {};
  norm_forward(rms_spec(rows, dim, eps), weight_only, arena);
}

void rms_norm_backward(int64_t rows, int64_t dim, std::optional<float> eps, const BackwardIO& io, Arena& arena) {
  BackwardIO weight_only = io;
  weight_only.beta = nullptr;
  weight_only.dbeta = nullptr;
  weight_only.modulation = {};
  weight_only.dscale = weight_only.dshift = nullptr;
  norm_backward(rms_spec(rows, dim, eps), weight_only, /*stats_constant=*/false, arena);
}

}  // namespace diffnorm
