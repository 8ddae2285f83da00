// PixelNorm (ProGAN): y = x / sqrt(mean over C of x² + eps) per (n, s), no parameters.
#include "diffnorm/norm.h"

namespace diffnorm {

static NormSpec pixel_spec(const NormShape& shape, float eps) {
  NormSpec spec;
  spec.shape = shape;
  spec.reduce = Reduce::Position;
  spec.center = false;
  spec.eps = eps;
  return spec;
}

void pixel_norm_forward(const NormShape& shape, float eps, const ForwardIO& io, Arena& arena) {
  ForwardIO plain = io;
  plain.gamma = plain.beta = nullptr;
  plain.modulation = {};
  norm_forward(pixel_spec(shape, eps), plain, arena);
}

void pixel_norm_backward(const NormShape& shape, float eps, const BackwardIO& io, Arena& arena) {
  BackwardIO plain = io;
  plain.gamma = plain.beta = nullptr;
  plain.modulation = {};
  plain.dgamma = plain.dbeta = plain.dscale = plain.dshift = nullptr;
  norm_backward(pixel_spec(shape, eps), plain, /*stats_constant=*/false, arena);
}

}  // namespace diffnorm
