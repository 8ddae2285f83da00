// GroupNorm (and InstanceNorm-like G = C, LayerNorm-over-(C,H,W)-like G = 1), with the
// AdaGN / scale-shift modulation and the fused epilogue of the engine.
#include "diffnorm/norm.h"

namespace diffnorm {

static NormSpec group_spec(const NormShape& shape, int64_t groups, float eps) {
  NormSpec spec;
  spec.shape = shape;
  spec.reduce = Reduce::Group;
  spec.groups = groups;
  spec.eps = eps;
  return spec;
}

void group_norm_forward(const NormShape& shape, int64_t groups, float eps, const ForwardIO& io, Arena& arena) {
  norm_forward(group_spec(shape, groups, eps), io, arena);
}

void group_norm_backward(const NormShape& shape, int64_t groups, float eps, const BackwardIO& io, Arena& arena) {
  norm_backward(group_spec(shape, groups, eps), io, /*stats_constant=*/false, arena);
}

}  // namespace diffnorm
