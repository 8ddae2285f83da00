// LayerNorm over the last dim of [batch, tokens, dim]: Position statistics in channels-last
// memory (one contiguous row per token); AdaLN modulation is per (batch, dim).
#include "diffnorm/norm.h"

namespace diffnorm {

static NormSpec layer_spec(int64_t batch, int64_t tokens, int64_t dim, float eps) {
  NormSpec spec;
  spec.shape = {batch, dim, tokens, Layout::NHWC};
  spec.reduce = Reduce::Position;
  spec.eps = eps;
  return spec;
}

void layer_norm_forward(int64_t batch, int64_t tokens, int64_t dim, float eps, const ForwardIO& io, Arena& arena) {
  norm_forward(layer_spec(batch, tokens, dim, eps), io, arena);
}

void layer_norm_backward(int64_t batch, int64_t tokens, int64_t dim, float eps, const BackwardIO& io,
                         Arena& arena) {
  norm_backward(layer_spec(batch, tokens, dim, eps), io, /*stats_constant=*/false, arena);
}

}  // namespace diffnorm
