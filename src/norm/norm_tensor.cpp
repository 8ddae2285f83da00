// The Tensor front of the layers: validates shapes and dtypes, allocates the outputs,
// and calls the raw-buffer API (scratch from a per-thread arena).
#include "core/check.h"
#include "diffnorm/norm.h"

namespace diffnorm {
namespace {

Arena& scratch() {
  thread_local Arena arena;
  arena.reset();
  return arena;
}

void check_float(const Tensor& t, const char* what) {
  DN_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F16 || t.dtype() == DType::BF16,
           "norm: {} must be F32, F16 or BF16, got {}", what, t.describe());
}

// An fp32 contiguous parameter of `count` elements, or null when undefined.
const float* param(const Tensor& t, int64_t count, const char* what, Tensor& keep) {
  if (!t.defined()) return nullptr;
  DN_CHECK(t.dtype() == DType::F32 && t.numel() == count, "norm: {} must be F32 with {} elements, got {}", what,
           count, t.describe());
  keep = t.contiguous();
  return keep.data<float>();
}

struct Bound {
  Tensor x, residual, gamma, beta, scale, shift;
  ForwardIO io;
};

// Binds x and params into a ForwardIO with freshly allocated outputs.
Bound bind(const Tensor& x_in, const NormShape& shape, const NormParams& p, int64_t stats, NormOutput& out) {
  Bound b;
  check_float(x_in, "x");
  b.x = x_in.contiguous();
  b.io.dtype = b.x.dtype();
  b.io.x = b.x.raw();
  b.io.gamma = param(p.gamma, shape.c, "gamma", b.gamma);
  b.io.beta = param(p.beta, shape.c, "beta", b.beta);
  b.io.modulation.scale = param(p.scale, shape.n * shape.c, "scale [N, C]", b.scale);
  b.io.modulation.shift = param(p.shift, shape.n * shape.c, "shift [N, C]", b.shift);
  b.io.activation = p.activation;
  if (p.residual.defined()) {
    DN_CHECK(p.residual.shape() == x_in.shape() && p.residual.dtype() == x_in.dtype(),
             "norm: residual must match x ({}), got {}", x_in.describe(), p.residual.describe());
    b.residual = p.residual.contiguous();
    b.io.residual = b.residual.raw();
  }
  out.y = Tensor::empty(x_in.shape(), b.io.dtype);
  out.mean = Tensor::empty({stats});
  out.rstd = Tensor::empty({stats});
  b.io.y = out.y.raw();
  b.io.mean = out.mean.data<float>();
  b.io.rstd = out.rstd.data<float>();
  return b;
}

struct BoundGrad {
  Tensor x, dy, gamma, beta, scale, shift, mean, rstd;
  BackwardIO io;
};

BoundGrad bind_grad(const Tensor& x_in, const Tensor& dy_in, const NormOutput& fwd, const NormShape& shape,
                    const NormParams& p, NormGrads& g) {
  BoundGrad b;
  check_float(x_in, "x");
  DN_CHECK(dy_in.shape() == x_in.shape() && dy_in.dtype() == x_in.dtype(), "norm backward: dy must match x ({}), got {}",
           x_in.describe(), dy_in.describe());
  b.x = x_in.contiguous();
  b.dy = dy_in.contiguous();
  b.io.dtype = b.x.dtype();
  b.io.x = b.x.raw();
  b.io.dy = b.dy.raw();
  b.io.gamma = param(p.gamma, shape.c, "gamma", b.gamma);
  b.io.beta = param(p.beta, shape.c, "beta", b.beta);
  b.io.modulation.scale = param(p.scale, shape.n * shape.c, "scale [N, C]", b.scale);
  b.io.modulation.shift = param(p.shift, shape.n * shape.c, "shift [N, C]", b.shift);
  b.io.activation = p.activation;
  b.io.mean = param(fwd.mean, fwd.mean.numel(), "mean", b.mean);
  b.io.rstd = param(fwd.rstd, fwd.rstd.numel(), "rstd", b.rstd);
  g.dx = Tensor::empty(x_in.shape(), b.io.dtype);
  b.io.dx = g.dx.raw();
  if (b.io.gamma) g.dgamma = Tensor::empty({shape.c}), b.io.dgamma = g.dgamma.data<float>();
  if (b.io.beta) g.dbeta = Tensor::empty({shape.c}), b.io.dbeta = g.dbeta.data<float>();
  if (b.io.modulation.scale) g.dscale = Tensor::empty({shape.n, shape.c}), b.io.dscale = g.dscale.data<float>();
  if (b.io.modulation.shift) g.dshift = Tensor::empty({shape.n, shape.c}), b.io.dshift = g.dshift.data<float>();
  return b;
}

void check_stats(const NormOutput& fwd, int64_t count) {
  DN_CHECK(fwd.mean.numel() == count && fwd.rstd.numel() == count,
           "norm backward: forward mean/rstd must have {} elements, got {} and {}", count, fwd.mean.describe(),
           fwd.rstd.describe());
}

// [..., D] as (rows, D); with modulation [B, T, D] as (B, T).
struct RowsShape {
  int64_t batch, tokens, dim;
};
RowsShape rows_of(const Tensor& x, const NormParams& p) {
  DN_CHECK(x.dim() >= 1, "layer_norm: x must have at least 1 dim, got {}", x.describe());
  const int64_t dim = x.size(-1);
  const int64_t rows = x.numel() / std::max<int64_t>(dim, 1);
  const bool modulated = p.scale.defined() || p.shift.defined();
  if (!modulated) return {rows, 1, dim};
  DN_CHECK(x.dim() == 3, "layer_norm: modulation needs x [B, T, D], got {}", x.describe());
  return {x.size(0), x.size(1), dim};
}

}  // namespace

NormShape norm_shape_of(const Tensor& x, Layout layout) {
  DN_CHECK(x.dim() >= 2, "norm: x must be [N, C, ...] or [N, ..., C] (at least 2 dims), got {}", x.describe());
  NormShape s;
  s.layout = layout;
  s.n = x.size(0);
  s.c = layout == Layout::NCHW ? x.size(1) : x.size(-1);
  s.s = x.numel() / std::max<int64_t>(s.n * s.c, 1);
  return s;
}

NormOutput group_norm(const Tensor& x, Layout layout, int64_t groups, float eps, const NormParams& params) {
  const NormShape shape = norm_shape_of(x, layout);
  NormOutput out;
  Bound b = bind(x, shape, params, shape.n * groups, out);
  group_norm_forward(shape, groups, eps, b.io, scratch());
  return out;
}

NormGrads group_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward, Layout layout,
                              int64_t groups, float eps, const NormParams& params) {
  const NormShape shape = norm_shape_of(x, layout);
  check_stats(forward, shape.n * groups);
  NormGrads g;
  BoundGrad b = bind_grad(x, dy, forward, shape, params, g);
  group_norm_backward(shape, groups, eps, b.io, scratch());
  return g;
}

NormOutput layer_norm(const Tensor& x, float eps, const NormParams& params) {
  const RowsShape r = rows_of(x, params);
  NormOutput out;
  Bound b = bind(x, {r.batch, r.dim, r.tokens, Layout::NHWC}, params, r.batch * r.tokens, out);
  layer_norm_forward(r.batch, r.tokens, r.dim, eps, b.io, scratch());
  return out;
}

NormGrads layer_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward, float eps,
                              const NormParams& params) {
  const RowsShape r = rows_of(x, params);
  check_stats(forward, r.batch * r.tokens);
  NormGrads g;
  BoundGrad b = bind_grad(x, dy, forward, {r.batch, r.dim, r.tokens, Layout::NHWC}, params, g);
  layer_norm_backward(r.batch, r.tokens, r.dim, eps, b.io, scratch());
  return g;
}

NormOutput rms_norm(const Tensor& x, std::optional<float> eps, const Tensor& weight) {
  const RowsShape r = rows_of(x, {});
  NormOutput out;
  NormParams p;
  p.gamma = weight;
  Bound b = bind(x, {r.batch, r.dim, 1, Layout::NHWC}, p, r.batch, out);
  rms_norm_forward(r.batch, r.dim, eps, b.io, scratch());
  return out;
}

NormGrads rms_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward, std::optional<float> eps,
                            const Tensor& weight) {
  const RowsShape r = rows_of(x, {});
  check_stats(forward, r.batch);
  NormGrads g;
  NormParams p;
  p.gamma = weight;
  BoundGrad b = bind_grad(x, dy, forward, {r.batch, r.dim, 1, Layout::NHWC}, p, g);
  rms_norm_backward(r.batch, r.dim, eps, b.io, scratch());
  return g;
}

NormOutput pixel_norm(const Tensor& x, Layout layout, float eps) {
  const NormShape shape = norm_shape_of(x, layout);
  NormOutput out;
  Bound b = bind(x, shape, {}, shape.n * shape.s, out);
  pixel_norm_forward(shape, eps, b.io, scratch());
  return out;
}

NormGrads pixel_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward, Layout layout,
                              float eps) {
  const NormShape shape = norm_shape_of(x, layout);
  check_stats(forward, shape.n * shape.s);
  NormGrads g;
  BoundGrad b = bind_grad(x, dy, forward, shape, {}, g);
  pixel_norm_backward(shape, eps, b.io, scratch());
  return g;
}

NormOutput batch_norm(const Tensor& x, Layout layout, const BatchNormOptions& options, RunningStats running,
                      const NormParams& params) {
  const NormShape shape = norm_shape_of(x, layout);
  NormOutput out;
  Bound b = bind(x, shape, params, shape.c, out);
  batch_norm_forward(shape, options, running, b.io, scratch());
  return out;
}

NormGrads batch_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward, Layout layout,
                              const BatchNormOptions& options, bool running_tracked, const NormParams& params) {
  const NormShape shape = norm_shape_of(x, layout);
  check_stats(forward, shape.c);
  NormGrads g;
  BoundGrad b = bind_grad(x, dy, forward, shape, params, g);
  batch_norm_backward(shape, options, running_tracked, b.io, scratch());
  return g;
}

NormOutput instance_norm(const Tensor& x, Layout layout, const InstanceNormOptions& options, RunningStats running,
                         const NormParams& params) {
  const NormShape shape = norm_shape_of(x, layout);
  NormOutput out;
  Bound b = bind(x, shape, params, shape.n * shape.c, out);
  instance_norm_forward(shape, options, running, b.io, scratch());
  return out;
}

NormGrads instance_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward, Layout layout,
                                 const InstanceNormOptions& options, bool running_tracked, const NormParams& params) {
  const NormShape shape = norm_shape_of(x, layout);
  check_stats(forward, shape.n * shape.c);
  NormGrads g;
  BoundGrad b = bind_grad(x, dy, forward, shape, params, g);
  instance_norm_backward(shape, options, running_tracked, b.io, scratch());
  return g;
}

}  // namespace diffnorm
