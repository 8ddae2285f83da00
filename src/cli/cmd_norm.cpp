// `diffnorm norm LAYER --input in.safetensors --output out.safetensors [options]`: one
// normalization layer of the library, forward (and with --backward its gradients), on the
// tensors of a file, so that the library can be checked against any framework.
//
// Inputs (by name): x, weight, bias, running_mean, running_var, num_batches_tracked,
// scale, shift, residual, dy; each used when present. Outputs: y, mean, rstd,
// running_mean, running_var, num_batches_tracked (BatchNorm), dx, dweight, dbias, dscale,
// dshift. Activations are stored in x's layout; statistics and parameter gradients are fp32.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cli/command.h"
#include "cli/norm_inputs.h"
#include "core/check.h"
#include "diffnorm/norm.h"
#include "diffnorm/safetensors.h"

namespace diffnorm::cli {
namespace {

struct NormArgs {
  std::string layer, input, output;
  int64_t groups = 0;
  double eps = 0;
  std::string momentum;
  bool train = false;
  std::string layout = "nchw";
  int64_t normalized_ndim = 1;
  std::string dtype;
  bool backward = false;
  std::string act;
  // Which options the user gave (the defaults depend on the layer).
  bool given_groups = false, given_eps = false, given_momentum = false, given_layout = false, given_ndim = false;
};

bool is_channel_layer(const std::string& layer) {  // x is [N, C, *S] or [N, *S, C]
  return layer == "batchnorm" || layer == "instancenorm" || layer == "groupnorm" || layer == "pixelnorm";
}

// The options that only some layers take: an Error names the option and the layers.
void check_option_applies(const NormArgs& a) {
  const std::string& L = a.layer;
  DN_CHECK(!a.given_groups || L == "groupnorm", "--groups applies to groupnorm only (layer: {})", L);
  DN_CHECK(L != "groupnorm" || a.given_groups, "groupnorm needs --groups G (a divisor of the channel count)");
  DN_CHECK(!a.given_momentum || L == "batchnorm" || L == "instancenorm",
           "--momentum applies to batchnorm and instancenorm only (layer: {})", L);
  DN_CHECK(!a.train || L == "batchnorm" || L == "instancenorm",
           "--train applies to batchnorm and instancenorm only (layer: {})", L);
  DN_CHECK(!a.given_layout || is_channel_layer(L),
           "--layout applies to batchnorm, instancenorm, groupnorm and pixelnorm (layer: {} normalizes the last "
           "dims; see --normalized-ndim)",
           L);
  DN_CHECK(!a.given_ndim || L == "layernorm" || L == "rmsnorm",
           "--normalized-ndim applies to layernorm and rmsnorm only (layer: {})", L);
  DN_CHECK(!a.given_eps || (std::isfinite(a.eps) && a.eps >= 0),
           "--eps must be a finite number >= 0, got {}", a.eps);
}

std::optional<float> parse_momentum(const NormArgs& a) {
  if (!a.given_momentum) return 0.1f;
  if (a.momentum == "none") {
    DN_CHECK(a.layer == "batchnorm", "--momentum none (cumulative average) applies to batchnorm only");
    return std::nullopt;
  }
  double m = 0;
  std::size_t used = 0;
  try {
    m = std::stod(a.momentum, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  DN_CHECK(used == a.momentum.size() && m >= 0 && m <= 1,
           "--momentum must be a number in [0, 1] or 'none', got '{}'", a.momentum);
  return float(m);
}

// The geometry of x for the layer: the engine's N × C × S view, and the shapes the
// parameters and statistics must have.
struct Geometry {
  NormShape shape;              // channel layers
  int64_t rows = 0, dim = 0;    // layernorm / rmsnorm: x as [rows, dim]
  Shape param_shape;            // weight / bias
  Shape stat_shape;             // mean / rstd as written
};

Geometry geometry_of(const NormArgs& a, const NormInputs& in) {
  const Tensor& x = in.raw("x");
  const Shape& xs = x.shape();
  const int64_t nd = x.dim();
  Geometry g;
  if (is_channel_layer(a.layer)) {
    const int64_t min_dims = a.layer == "instancenorm" ? 3 : 2;
    DN_CHECK(nd >= min_dims, "{}: {} needs x with at least {} dims ([N, C{}]), got {}", in.path(), a.layer, min_dims,
             min_dims == 3 ? ", L, ..." : ", ...", x.describe());
    const bool nhwc = a.layout == "nhwc";
    int64_t s = 1;
    for (int64_t d = 1; d < nd; ++d)
      if (d != (nhwc ? nd - 1 : 1)) s *= xs[d];
    g.shape = {xs[0], nhwc ? xs[nd - 1] : xs[1], s, nhwc ? Layout::NHWC : Layout::NCHW};
    DN_CHECK(g.shape.numel() > 0, "{}: x {} is empty", in.path(), x.describe());
    g.param_shape = {g.shape.c};
    const int64_t n = g.shape.n, c = g.shape.c;
    if (a.layer == "groupnorm") {
      DN_CHECK(a.groups > 0 && c % a.groups == 0,
               "--groups {} does not divide the {} channels of x {} (layout {}); pick a divisor of {}", a.groups, c,
               x.describe(), a.layout, c);
      g.stat_shape = {n, a.groups};
    } else if (a.layer == "batchnorm") {
      g.stat_shape = {c};
    } else if (a.layer == "instancenorm") {
      g.stat_shape = {n, c};
    } else {  // pixelnorm: one statistic per (n, position)
      g.stat_shape = {n};
      for (int64_t d = 1; d < nd; ++d)
        if (d != (nhwc ? nd - 1 : 1)) g.stat_shape.push_back(xs[d]);
    }
  } else {
    const int64_t k = a.normalized_ndim;
    DN_CHECK(k >= 1 && k <= nd, "--normalized-ndim {} must be between 1 and the {} dims of x {}", k, nd,
             x.describe());
    g.param_shape.assign(xs.end() - k, xs.end());
    g.stat_shape.assign(xs.begin(), xs.end() - k);
    g.rows = shape_numel(g.stat_shape);
    g.dim = shape_numel(g.param_shape);
    DN_CHECK(g.rows > 0 && g.dim > 0, "{}: x {} is empty", in.path(), x.describe());
  }
  return g;
}

// Every input the layer cannot use, and every shape, checked before any computation.
void check_inputs(const NormArgs& a, const NormInputs& in, const Geometry& g) {
  const std::string& L = a.layer;
  const Shape& xs = in.raw("x").shape();
  const bool running_layer = L == "batchnorm" || L == "instancenorm";
  for (const char* name : {"running_mean", "running_var"})
    if (!running_layer) in.reject(name, fmt::format("{} keeps no running statistics", L));
  DN_CHECK(in.has("running_mean") == in.has("running_var"),
           "{}: running_mean and running_var come together (track_running_stats); the file holds only {}", in.path(),
           in.has("running_mean") ? "running_mean" : "running_var");
  if (L != "batchnorm") in.reject("num_batches_tracked", fmt::format("{} does not count batches", L));
  if (in.has("num_batches_tracked"))
    DN_CHECK(in.has("running_mean"), "{}: num_batches_tracked given without running_mean / running_var", in.path());
  if (L == "pixelnorm") {
    for (const char* name : {"weight", "bias", "scale", "shift"}) in.reject(name, "pixelnorm has no parameters");
  }
  if (L == "rmsnorm") {
    in.reject("bias", "rmsnorm has a weight only");
    for (const char* name : {"scale", "shift"}) in.reject(name, "rmsnorm takes no modulation");
  }
  if (L == "batchnorm")
    for (const char* name : {"scale", "shift"})
      in.reject(name, "batchnorm takes no per-sample modulation (scale/shift are for groupnorm, instancenorm, "
                      "layernorm)");

  const std::string param_what =
      is_channel_layer(L) ? "one per channel" : fmt::format("the last {} dims of x", a.normalized_ndim);
  for (const char* name : {"weight", "bias"}) in.expect_shape(name, g.param_shape, param_what);
  for (const char* name : {"running_mean", "running_var"}) in.expect_shape(name, g.param_shape, "one per channel");
  for (const char* name : {"residual", "dy"}) in.expect_shape(name, xs, "the shape of x");

  if (in.has("scale") || in.has("shift")) {
    Shape mod_shape;
    if (L == "layernorm") {
      DN_CHECK(int64_t(xs.size()) == a.normalized_ndim + 2,
               "{}: layernorm with scale/shift (AdaLN) needs x as [B, T, normalized dims], got {}", in.path(),
               shape_str(xs));
      mod_shape = {xs[0], g.dim};
    } else {
      mod_shape = {g.shape.n, g.shape.c};
    }
    for (const char* name : {"scale", "shift"}) in.expect_shape(name, mod_shape, "one per (sample, channel)");
  }
  DN_CHECK(!a.backward || in.has("dy"), "{}: --backward needs the output gradient 'dy' (the shape of x) in the file",
           in.path());
}

void run_norm(const NormArgs& a) {
  check_option_applies(a);
  const std::optional<float> momentum = parse_momentum(a);
  const NormInputs in = NormInputs::read(a.input);
  const Geometry g = geometry_of(a, in);
  check_inputs(a, in, g);

  const DType dtype = a.dtype.empty() ? in.raw("x").dtype() : *parse_dtype(a.dtype);
  const Tensor x = in.get("x", dtype);
  const std::optional<Tensor> weight = in.optional_f32("weight"), bias = in.optional_f32("bias");
  const std::optional<Tensor> scale = in.optional_f32("scale"), shift = in.optional_f32("shift");
  const std::optional<Tensor> residual =
      in.has("residual") ? std::optional<Tensor>(in.get("residual", dtype)) : std::nullopt;
  const Activation act = a.act == "silu" ? Activation::SiLU : Activation::None;
  auto ptr = [](const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; };

  // Running statistics are updated in place: writable fp32 copies.
  std::optional<Tensor> running_mean = in.optional_f32("running_mean"), running_var = in.optional_f32("running_var");
  int64_t batches_tracked = in.has("num_batches_tracked") ? int64_t(in.raw("num_batches_tracked").item(0)) : 0;
  const RunningStats running =
      running_mean ? RunningStats{running_mean->data<float>(), running_var->data<float>(), &batches_tracked}
                   : RunningStats{};

  const float eps_default = a.layer == "pixelnorm" ? kPixelNormEps : 1e-5f;
  const float eps = a.given_eps ? float(a.eps) : eps_default;
  const std::optional<float> rms_eps = a.given_eps ? std::optional<float>(float(a.eps)) : std::nullopt;
  BatchNormOptions bn{eps, momentum, a.train};
  InstanceNormOptions inorm{eps, momentum.value_or(0.1f), a.train};

  Tensor y = Tensor::empty(x.shape(), dtype);
  Tensor mean = Tensor::empty(g.stat_shape, DType::F32), rstd = Tensor::empty(g.stat_shape, DType::F32);
  ForwardIO io;
  io.dtype = dtype;
  io.x = x.raw();
  io.y = y.raw();
  io.gamma = ptr(weight);
  io.beta = ptr(bias);
  io.modulation = {ptr(scale), ptr(shift)};
  io.activation = act;
  io.residual = residual ? residual->raw() : nullptr;
  io.mean = mean.data<float>();
  io.rstd = rstd.data<float>();

  // LayerNorm with modulation sees x as [B, T, D] (scale/shift per B); otherwise as rows.
  const bool modulated = scale || shift;
  const int64_t ln_batch = a.layer == "layernorm" && modulated ? x.shape()[0] : 1;
  Arena arena;
  const auto start = std::chrono::steady_clock::now();
  if (a.layer == "groupnorm") group_norm_forward(g.shape, a.groups, eps, io, arena);
  if (a.layer == "layernorm") layer_norm_forward(ln_batch, g.rows / ln_batch, g.dim, eps, io, arena);
  if (a.layer == "rmsnorm") rms_norm_forward(g.rows, g.dim, rms_eps, io, arena);
  if (a.layer == "pixelnorm") pixel_norm_forward(g.shape, eps, io, arena);
  if (a.layer == "batchnorm") batch_norm_forward(g.shape, bn, running, io, arena);
  if (a.layer == "instancenorm") instance_norm_forward(g.shape, inorm, running, io, arena);

  std::vector<std::pair<std::string, Tensor>> out = {{"y", y}, {"mean", mean}, {"rstd", rstd}};
  if (running_mean) {
    out.emplace_back("running_mean", *running_mean);
    out.emplace_back("running_var", *running_var);
  }
  if (a.layer == "batchnorm" && running_mean) {
    Tensor counter = Tensor::empty({}, DType::I64);
    *counter.data<int64_t>() = batches_tracked;
    out.emplace_back("num_batches_tracked", counter);
  }

  if (a.backward) {
    const Tensor dy = in.get("dy", dtype);
    Tensor dx = Tensor::empty(x.shape(), dtype);
    auto grad_like = [](const std::optional<Tensor>& t) {
      return t ? std::optional<Tensor>(Tensor::empty(t->shape(), DType::F32)) : std::nullopt;
    };
    std::optional<Tensor> dweight = grad_like(weight), dbias = grad_like(bias);
    std::optional<Tensor> dscale = grad_like(scale), dshift = grad_like(shift);
    BackwardIO bio;
    bio.dtype = dtype;
    bio.x = x.raw();
    bio.dy = dy.raw();
    bio.dx = dx.raw();
    bio.gamma = ptr(weight);
    bio.beta = ptr(bias);
    bio.modulation = io.modulation;
    bio.activation = act;
    bio.mean = mean.data<float>();
    bio.rstd = rstd.data<float>();
    bio.dgamma = dweight ? dweight->data<float>() : nullptr;
    bio.dbeta = dbias ? dbias->data<float>() : nullptr;
    bio.dscale = dscale ? dscale->data<float>() : nullptr;
    bio.dshift = dshift ? dshift->data<float>() : nullptr;
    arena.reset();
    if (a.layer == "groupnorm") group_norm_backward(g.shape, a.groups, eps, bio, arena);
    if (a.layer == "layernorm") layer_norm_backward(ln_batch, g.rows / ln_batch, g.dim, eps, bio, arena);
    if (a.layer == "rmsnorm") rms_norm_backward(g.rows, g.dim, rms_eps, bio, arena);
    if (a.layer == "pixelnorm") pixel_norm_backward(g.shape, eps, bio, arena);
    if (a.layer == "batchnorm") batch_norm_backward(g.shape, bn, running.tracked(), bio, arena);
    if (a.layer == "instancenorm") instance_norm_backward(g.shape, inorm, running.tracked(), bio, arena);
    out.emplace_back("dx", dx);
    const std::pair<const char*, std::optional<Tensor>*> grads[] = {
        {"dweight", &dweight}, {"dbias", &dbias}, {"dscale", &dscale}, {"dshift", &dshift}};
    for (const auto& [name, t] : grads)
      if (*t) out.emplace_back(name, **t);
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  save_safetensors(a.output, out, {{"layer", a.layer}, {"producer", "diffnorm norm"}});
  std::vector<std::string> names;
  for (const auto& entry : out) names.push_back(entry.first);
  fmt::print("{} {} {}: {} -> {} ({}) in {:.3f} ms\n", a.layer, dtype_name(dtype), shape_str(x.shape()), a.input,
             a.output, fmt::join(names, ", "), ms);
}

const RegisterCommand kNorm{
    {"norm", "Run one normalization layer (forward, --backward) on tensors from a safetensors file",
     [](CLI::App& sub) {
       auto a = std::make_shared<NormArgs>();
       sub.add_option("layer", a->layer, "batchnorm, layernorm, instancenorm, groupnorm, rmsnorm or pixelnorm")
           ->required()
           ->check(CLI::IsMember({"batchnorm", "layernorm", "instancenorm", "groupnorm", "rmsnorm", "pixelnorm"}));
       sub.add_option("--input", a->input,
                      "safetensors with x and, when used, weight, bias, running_mean, running_var, "
                      "num_batches_tracked, scale, shift, residual, dy")
           ->required();
       sub.add_option("--output", a->output, "safetensors to write (y, mean, rstd, running stats, gradients)")
           ->required();
       auto* groups = sub.add_option("--groups", a->groups, "GroupNorm: number of groups (divides C)");
       auto* eps = sub.add_option("--eps", a->eps,
                                  "Added to the variance (default 1e-5; rmsnorm: float32 eps; pixelnorm: 1e-8)");
       auto* momentum = sub.add_option("--momentum", a->momentum,
                                       "Running-statistics momentum (default 0.1; 'none': cumulative average)");
       sub.add_flag("--train", a->train, "BatchNorm/InstanceNorm training mode (batch statistics, running update)");
       auto* layout = sub.add_option("--layout", a->layout, "Storage of x: nchw ([N,C,*S]) or nhwc ([N,*S,C])")
                          ->check(CLI::IsMember({"nchw", "nhwc"}));
       auto* ndim = sub.add_option("--normalized-ndim", a->normalized_ndim,
                                   "LayerNorm/RMSNorm: normalize over the last K dims (default 1)");
       sub.add_option("--dtype", a->dtype, "Storage of x, y, dy, dx while computing (default: x's dtype)")
           ->check(CLI::IsMember({"f32", "bf16", "f16"}));
       sub.add_flag("--backward", a->backward, "Also compute dx, dweight, dbias, dscale, dshift from dy");
       sub.add_option("--act", a->act, "Activation fused after the affine: silu")->check(CLI::IsMember({"silu"}));
       return std::function<void()>([a, groups, eps, momentum, layout, ndim] {
         a->given_groups = groups->count() > 0;
         a->given_eps = eps->count() > 0;
         a->given_momentum = momentum->count() > 0;
         a->given_layout = layout->count() > 0;
         a->given_ndim = ndim->count() > 0;
         run_norm(*a);
       });
     }}};

}  // namespace
}  // namespace diffnorm::cli
