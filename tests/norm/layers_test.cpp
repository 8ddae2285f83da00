// Every layer, forward and backward, against PyTorch in float64 (autograd for the
// gradients), on fresh random shapes and values each run (the seed is printed on
// failure). Metric: max|ours − ref| / max|ref| per tensor for fp32 storage; for bf16/f16
// storage the error in units of the storage type's spacing at the reference value.
#include <fmt/format.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "hwy/targets.h"

#include "core/cpu_features.h"
#include "norm/engine.h"
#include "norm/norm_oracle.h"
#include "scoped_setting.h"

namespace diffnorm::test {
namespace {

// The oracle runs single-threaded beside our kernels.
const bool kTorchSingleThread = (torch::set_num_threads(1), true);

enum class Kind { Group, Instance, Batch, LayerNorm, Rms, Pixel };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Group: return "GroupNorm";
    case Kind::Instance: return "InstanceNorm";
    case Kind::Batch: return "BatchNorm";
    case Kind::LayerNorm: return "LayerNorm";
    case Kind::Rms: return "RMSNorm";
    case Kind::Pixel: return "PixelNorm";
  }
  return "?";
}

struct Config {
  Kind kind;
  Layout layout;
  DType dtype = DType::F32;
  bool affine = true;
  bool modulate = false;
  bool silu = false;
  bool residual = false;
  double offset = 0;  // mean in units of the standard deviation
  double scale = 1;   // standard deviation
  bool large = false; // a shape with reductions longer than one work item
  bool wide = false;  // the channel counts of real networks: full 8-vector column tiles and a tail
  std::optional<float> eps = std::nullopt;
  double channel0_offset = 0;  // added to channel 0, in standard deviations
  double odd_position_offset = 0;  // added at odd positions s (≥ 5 of them), in standard deviations
};

std::string describe(const Config& c, int64_t N, int64_t C, int64_t S, int64_t G, uint64_t seed) {
  return fmt::format("{} {} {} affine={} mod={} silu={} res={} offset={}σ scale={} N={} C={} S={} G={} seed={}",
                     kind_name(c.kind), c.layout == Layout::NCHW ? "NCHW" : "NHWC", dtype_name(c.dtype), c.affine,
                     c.modulate, c.silu, c.residual, c.offset, c.scale, N, C, S, G, seed);
}

// A random shape: odd channel counts, N = 1, S = 1 and channel counts that are not a
// multiple of the vector width all occur.
void random_shape(std::mt19937_64& rng, const Config& c, int64_t& N, int64_t& C, int64_t& S, int64_t& G) {
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  N = uni(1, 3);
  const int64_t pick = uni(0, 2);
  const int64_t Cg = uni(1, 7);
  G = pick == 0 ? 1 : uni(1, 6);
  if (c.kind != Kind::Group) G = 1;
  C = G * Cg + (c.kind == Kind::Group ? 0 : uni(0, 40));
  const int64_t s_pick = uni(0, 3);
  S = s_pick == 0 ? 1 : s_pick == 1 ? uni(2, 9) : uni(10, 300);
  if (c.kind == Kind::Batch && N * S < 2) N = 2;
  if (c.kind == Kind::Instance && S < 2) S = 2;
  if (c.kind == Kind::Group && pick == 2) G = C;  // instance-like
  if (c.large) {
    C = c.kind == Kind::Group ? 4 * G : uni(3, 40);
    S = c.kind == Kind::LayerNorm || c.kind == Kind::Rms ? uni(2, 6) : uni(4500, 9000);
    if (c.kind == Kind::LayerNorm || c.kind == Kind::Rms || c.kind == Kind::Pixel) C = uni(17000, 20000);
    if (c.kind == Kind::Pixel) S = uni(2, 40);
    N = c.kind == Kind::Batch ? 3 : 1;
  }
  if (c.wide) {
    G = c.kind == Kind::Group ? 32 : 1;
    C = c.kind == Kind::Group ? 32 * uni(4, 41) : uni(130, 1300);
    S = uni(20, 120);
    N = c.kind == Kind::Batch ? 2 : uni(1, 2);
  }
  if (c.odd_position_offset != 0) S = std::max<int64_t>(S, 10);
}

// fp32 forward: 2e-6 for |mean| <= 100σ, 1e-4 up to 1e4σ.
double fp32_forward_tolerance(double offset) { return offset <= 100 ? 2e-6 : 1e-4; }
// Backward, relative to the gradient's term scale (below): the backward centres x on the
// exact mean (fp32 mean plus its low part), so the error does not grow with |μ|/σ.
// The 2e-6. (Seed 17511445658970366537 reached 2.2e-6 on the 1-lane SCALAR target
// while its fp32 sums covered 512 values per lane; they now cover ≤ 32 on every target.)
constexpr double kBackwardTolerance = 2e-6;

// (x − μ)·rsqrt(σ² + eps) over the last dim, in float64 with autograd. GroupNorm and
// LayerNorm use this rather than torch::group_norm / torch::layer_norm: those compute
// x·rstd − μ·rstd, whose float64 cancellation leaves ~1e-16·|μ|·rstd where the exact x̂ is
// 0 (one value per statistic), and that noise is larger than the reference's own tolerance.
torch::Tensor centred_normalize(const torch::Tensor& x, float eps) {
  const torch::Tensor centred = x - x.mean(-1, true);
  return centred * torch::rsqrt(centred.pow(2).mean(-1, true) + double(eps));
}

void run(const Config& cfg) {
  const uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  torch::manual_seed(seed);
  int64_t N, C, S, G;
  random_shape(rng, cfg, N, C, S, G);
  SCOPED_TRACE(describe(cfg, N, C, S, G, seed));

  const bool has_affine = cfg.affine && cfg.kind != Kind::Pixel;
  const bool has_beta = has_affine && cfg.kind != Kind::Rms;
  const float eps = cfg.eps ? *cfg.eps : (cfg.kind == Kind::Pixel ? kPixelNormEps : 1e-5f);

  torch::Tensor x_units = cfg.offset + torch::randn({N, C, S}, f64());  // x in standard deviations
  x_units.select(1, 0).add_(cfg.channel0_offset);
  x_units.slice(2, 1, S, 2).add_(cfg.odd_position_offset);
  torch::Tensor x = round_to(cfg.scale * x_units, cfg.dtype);
  torch::Tensor dy = round_to(torch::randn({N, C, S}, f64()), cfg.dtype);
  torch::Tensor res = round_to(torch::randn({N, C, S}, f64()), cfg.dtype);
  torch::Tensor w = round_to(1 + 0.5 * torch::randn({C}, f64()), DType::F32);
  torch::Tensor b = round_to(torch::randn({C}, f64()), DType::F32);
  torch::Tensor sc = round_to(0.3 * torch::randn({N, C}, f64()), DType::F32);
  torch::Tensor sh = round_to(torch::randn({N, C}, f64()), DType::F32);

  // ---- reference (float64, autograd)
  torch::Tensor xr = x.clone().requires_grad_(true), wr = w.clone().requires_grad_(true),
                br = b.clone().requires_grad_(true), scr = sc.clone().requires_grad_(true),
                shr = sh.clone().requires_grad_(true);
  // x̂ from PyTorch's own normalization (no affine), kept for the gradient scale below.
  torch::Tensor xh;
  switch (cfg.kind) {
    case Kind::Group:
      xh = centred_normalize(xr.reshape({N, G, -1}), eps).reshape({N, C, S});
      break;
    case Kind::Instance:
      xh = torch::instance_norm(xr, {}, {}, {}, {}, true, 0.1, eps, false);
      break;
    case Kind::Batch:
      xh = torch::batch_norm(xr, {}, {}, {}, {}, true, 0.1, eps, false);
      break;
    case Kind::LayerNorm:
      xh = centred_normalize(xr.permute({0, 2, 1}), eps).permute({0, 2, 1});
      break;
    case Kind::Rms:
    case Kind::Pixel:
      xh = xr * torch::rsqrt(xr.pow(2).mean(1, true) + double(eps));
      break;
  }
  xh.retain_grad();
  torch::Tensor y = xh;
  if (has_affine) y = y * wr.view({1, C, 1});
  if (has_beta) y = y + br.view({1, C, 1});
  torch::Tensor z = y;  // x̂·γ + β
  z.retain_grad();
  if (cfg.modulate) y = y * (1 + scr.unsqueeze(2)) + shr.unsqueeze(2);
  torch::Tensor u = y;  // the pre-activation value
  if (u.data_ptr() != z.data_ptr()) u.retain_grad();
  if (cfg.silu) y = torch::silu(y);
  if (cfg.residual) y = y + res;
  y.backward(dy);

  // ---- ours
  Arena arena;
  const NormShape shape{N, C, S, cfg.layout};
  Buffer xb = to_buffer(x, cfg.layout, cfg.dtype), dyb = to_buffer(dy, cfg.layout, cfg.dtype),
         rb = to_buffer(res, cfg.layout, cfg.dtype);
  Buffer yb = poisoned(N * C * S, cfg.dtype), dxb = poisoned(N * C * S, cfg.dtype);
  const std::vector<float> wv = to_floats(w), bv = to_floats(b), scv = to_floats(sc), shv = to_floats(sh);
  const int64_t stats = cfg.kind == Kind::Group      ? N * G
                        : cfg.kind == Kind::Instance ? N * C
                        : cfg.kind == Kind::Batch    ? C
                                                     : N * S;
  std::vector<float> mean = poisoned_f32(stats), rstd = poisoned_f32(stats);
  ForwardIO io;
  io.dtype = cfg.dtype;
  io.x = xb.data();
  io.y = yb.data();
  io.gamma = has_affine ? wv.data() : nullptr;
  io.beta = has_beta ? bv.data() : nullptr;
  if (cfg.modulate) io.modulation = {scv.data(), shv.data()};
  io.activation = cfg.silu ? Activation::SiLU : Activation::None;
  io.residual = cfg.residual ? rb.data() : nullptr;
  io.mean = mean.data();
  io.rstd = rstd.data();
  std::vector<float> dw = poisoned_f32(C), db = poisoned_f32(C), dsc = poisoned_f32(N * C), dsh = poisoned_f32(N * C);
  BackwardIO bio;
  bio.dtype = cfg.dtype;
  bio.x = xb.data();
  bio.dy = dyb.data();
  bio.dx = dxb.data();
  bio.gamma = io.gamma;
  bio.beta = io.beta;
  bio.modulation = io.modulation;
  bio.activation = io.activation;
  bio.mean = mean.data();
  bio.rstd = rstd.data();
  bio.dgamma = has_affine ? dw.data() : nullptr;
  bio.dbeta = has_beta ? db.data() : nullptr;
  bio.dscale = cfg.modulate ? dsc.data() : nullptr;
  bio.dshift = cfg.modulate ? dsh.data() : nullptr;

  const std::optional<float> rms_eps = eps;
  switch (cfg.kind) {
    case Kind::Group:
      group_norm_forward(shape, G, eps, io, arena);
      group_norm_backward(shape, G, eps, bio, arena);
      break;
    case Kind::Instance: {
      const InstanceNormOptions o{eps, 0.1f, true};
      instance_norm_forward(shape, o, {}, io, arena);
      instance_norm_backward(shape, o, false, bio, arena);
      break;
    }
    case Kind::Batch: {
      const BatchNormOptions o{eps, 0.1f, true};
      batch_norm_forward(shape, o, {}, io, arena);
      batch_norm_backward(shape, o, false, bio, arena);
      break;
    }
    case Kind::LayerNorm:
    case Kind::Rms:
      if (cfg.layout == Layout::NCHW) {  // over the channels of NCHW: the engine's NormSpec
        NormSpec spec;
        spec.shape = shape;
        spec.reduce = Reduce::Position;
        spec.center = cfg.kind == Kind::LayerNorm;
        spec.eps = eps;
        norm_forward(spec, io, arena);
        norm_backward(spec, bio, false, arena);
      } else if (cfg.kind == Kind::LayerNorm) {
        layer_norm_forward(N, S, C, eps, io, arena);
        layer_norm_backward(N, S, C, eps, bio, arena);
      } else {
        rms_norm_forward(N * S, C, rms_eps, io, arena);
        rms_norm_backward(N * S, C, rms_eps, bio, arena);
      }
      break;
    case Kind::Pixel:
      pixel_norm_forward(shape, eps, io, arena);
      pixel_norm_backward(shape, eps, bio, arena);
      break;
  }

  const torch::Tensor y_ours = from_buffer(yb, N, C, S, cfg.layout);
  const torch::Tensor dx_ours = from_buffer(dxb, N, C, S, cfg.layout);
  const torch::Tensor y_ref = y.detach(), dx_ref = xr.grad();
  ASSERT_TRUE(all_finite(y_ours)) << "forward produced NaN/Inf";
  ASSERT_TRUE(all_finite(dx_ours)) << "backward produced NaN/Inf";
  // dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) cancels terms of size rstd·|dx̂|; with few
  // values per statistic the result is far smaller than its terms (n = 1: exactly 0), so
  // dx errors are measured against max(max|dx|, max rstd·|dx̂|).
  torch::Tensor r_elem;
  switch (cfg.kind) {
    case Kind::Group: {
      torch::Tensor xg = x.reshape({N, G, -1});
      r_elem = torch::rsqrt(xg.var(2, false, true) + double(eps)).expand({N, G, C / G * S}).reshape({N, C, S});
      break;
    }
    case Kind::Instance:
      r_elem = torch::rsqrt(x.var(2, false, true) + double(eps));
      break;
    case Kind::Batch:
      r_elem = torch::rsqrt(x.var(std::vector<int64_t>{0, 2}, false, true) + double(eps));
      break;
    case Kind::LayerNorm:
      r_elem = torch::rsqrt(x.var(1, false, true) + double(eps));
      break;
    default: r_elem = torch::rsqrt(x.pow(2).mean(1, true) + double(eps)); break;
  }
  const double dx_scale = std::max(dx_ref.abs().max().item<double>(), (r_elem * xh.grad()).abs().max().item<double>());
  const double dx_err = (dx_ours - dx_ref).abs().max().item<double>() / dx_scale;
  if (cfg.dtype == DType::F32) {
    EXPECT_LE(rel_err(y_ours, y_ref), fp32_forward_tolerance(cfg.offset)) << "y";
    EXPECT_LE(dx_err, kBackwardTolerance) << "dx";
  } else {
    EXPECT_LE(ulp_err(y_ours, y_ref, cfg.dtype, 2e-6 * y_ref.abs().max().item<double>()), 1.0) << "y (storage ulps)";
    EXPECT_LE(ulp_err(dx_ours, dx_ref, cfg.dtype, kBackwardTolerance * dx_scale), 1.0)
        << "dx (storage ulps)";
  }
  // Parameter gradients are sums; measured against max(max|ref|, the largest sum of
  // |terms|), which only differs when the terms cancel (e.g. one value per statistic).
  const double ptol = kBackwardTolerance;
  auto param_err = [](const torch::Tensor& got, const torch::Tensor& ref, const torch::Tensor& terms) {
    const double scale = std::max(ref.abs().max().item<double>(), terms.max().item<double>());
    return (got - ref).abs().max().item<double>() / std::max(scale, 1e-300);
  };
  const torch::Tensor dz = z.grad();
  if (has_affine) {
    EXPECT_LE(param_err(from_floats(dw, {C}), wr.grad(), (dz * xh).detach().abs().sum(std::vector<int64_t>{0, 2})), ptol)
        << "dgamma";
  }
  if (has_beta) {
    EXPECT_LE(param_err(from_floats(db, {C}), br.grad(), dz.abs().sum(std::vector<int64_t>{0, 2})), ptol) << "dbeta";
  }
  if (cfg.modulate) {
    const torch::Tensor du = u.grad();
    EXPECT_LE(param_err(from_floats(dsc, {N, C}), scr.grad(), (du * z).detach().abs().sum(2)), ptol) << "dscale";
    EXPECT_LE(param_err(from_floats(dsh, {N, C}), shr.grad(), du.abs().sum(2)), ptol) << "dshift";
  }
  // The reported statistics: mean and rstd of the biased variance (RMS: of the mean square).
  if (cfg.kind == Kind::Group || cfg.kind == Kind::LayerNorm || cfg.kind == Kind::Instance ||
      cfg.kind == Kind::Batch) {
    torch::Tensor xs = cfg.kind == Kind::Group      ? x.reshape({N * G, -1})
                       : cfg.kind == Kind::Instance ? x.reshape({N * C, S})
                       : cfg.kind == Kind::Batch    ? x.permute({1, 0, 2}).reshape({C, -1})
                                                    : x.permute({0, 2, 1}).reshape({N * S, C});
    torch::Tensor m_ref = xs.mean(1), r_ref = torch::rsqrt(xs.var(1, false) + double(eps));
    EXPECT_LE((from_floats(mean, {stats}) - m_ref).abs().max().item<double>(),
              1e-6 * (xs.abs().max().item<double>() + 1e-30))
        << "mean";
    EXPECT_LE(rel_err(from_floats(rstd, {stats}), r_ref), 1e-5) << "rstd";
  }
}

std::vector<Kind> all_kinds() {
  return {Kind::Group, Kind::Instance, Kind::Batch, Kind::LayerNorm, Kind::Rms, Kind::Pixel};
}
std::vector<Layout> layouts_of(Kind) {
  // LayerNorm and RMSNorm layers are row ops over the last dim ([B, T, D] is channels-last);
  // over the channels of NCHW they are the engine's channels-first Position statistics.
  return {Layout::NCHW, Layout::NHWC};
}

class LayerTest : public ::testing::TestWithParam<Kind> {};

TEST_P(LayerTest, Fp32ForwardBackwardWithOffsets) {
  for (Layout layout : layouts_of(GetParam()))
    for (bool affine : {true, false})
      for (double offset : {0.0, 100.0, 1e4})
        for (int rep = 0; rep < 2; ++rep) {
          Config c{GetParam(), layout};
          c.affine = affine;
          c.offset = offset;
          run(c);
        }
}

TEST_P(LayerTest, Fp32ExtremeMagnitudes) {
  for (Layout layout : layouts_of(GetParam()))
    for (double scale : {1e-15, 1e-3, 1e3, 1e15}) {
      Config c{GetParam(), layout};
      c.scale = scale;
      c.offset = 3;
      run(c);
    }
}

// σ ≪ √eps with the mean far from zero against σ: rstd ≈ 1/√eps, so |mean|·rstd is small
// although |mean| ≫ σ; x̂ and the parameter gradients (Σdy·x̂) keep their relative accuracy
// only with the exact centring (see foldable). With eps = 1e-12 and σ = 1e-13, 1 − eps·rstd²
// is 4e-9 from the rounding of rstd alone (σ²·rstd² = 1e-14).
TEST_P(LayerTest, SpreadFarBelowEps) {
  struct Case {
    double scale, offset;
    float eps;
  };
  for (Layout layout : layouts_of(GetParam()))
    for (bool modulate : {false, true})
      for (const Case& k : {Case{1e-7, 1e4, 1e-5f}, Case{1e-13, 2000, 1e-12f}}) {
        Config c{GetParam(), layout};
        c.scale = k.scale;
        c.offset = k.offset;
        c.eps = k.eps;
        c.modulate = modulate && (GetParam() == Kind::Group || GetParam() == Kind::LayerNorm);
        run(c);
      }
}

// Channel 0 an outlier (10σ): the channels-first statistics (LayerNorm over C of NCHW)
// must not take their shift from it alone (see MergeChunkColumnMoments).
TEST_P(LayerTest, OutlierFirstChannel) {
  for (Layout layout : layouts_of(GetParam()))
    for (int rep = 0; rep < 3; ++rep) {
      Config c{GetParam(), layout};
      c.scale = 1e3;
      c.offset = 3;
      c.channel0_offset = 10;
      run(c);
    }
}

TEST_P(LayerTest, LongReductions) {
  for (Layout layout : layouts_of(GetParam())) {
    Config c{GetParam(), layout};
    c.large = true;
    c.offset = 50;
    run(c);
  }
}

// 128–1312 channels (SD's 320–1280 among them): the channels-last column kernels' widest
// register tiles, which the small random shapes above do not reach.
TEST_P(LayerTest, WideChannels) {
  for (Layout layout : layouts_of(GetParam()))
    for (DType dtype : {DType::F32, DType::BF16})
      for (bool silu : {false, true}) {
        Config c{GetParam(), layout, dtype};
        c.wide = true;
        c.silu = silu;
        c.offset = dtype == DType::F32 ? 50.0 : 1.0;
        run(c);
      }
}

TEST_P(LayerTest, HalfStorageWithinOneRounding) {
  for (DType dtype : {DType::BF16, DType::F16})
    for (Layout layout : layouts_of(GetParam()))
      for (double offset : {0.0, 10.0}) {
        Config c{GetParam(), layout, dtype};
        c.offset = offset;
        run(c);
      }
}

TEST_P(LayerTest, FusedSiluAndResidual) {
  for (Layout layout : layouts_of(GetParam()))
    for (DType dtype : {DType::F32, DType::BF16}) {
      Config c{GetParam(), layout, dtype};
      c.silu = true;
      c.residual = true;
      run(c);
      c.residual = false;
      run(c);
    }
}

// The SiLU epilogue alone, on every finite input a 16-bit activation can hold (bf16 from
// −88 up: below, e^−u overflows fp32 and SiLU(u) < 1.4e-36 is returned as −0, as
// PyTorch's fp32 SiLU does): mean 0 and rstd 1 given to the apply make u = x exactly. Each
// y must be within one rounding of SiLU(x), with no slack. Without a residual a 16-bit y
// takes a shorter e^−u (kSiluDegree); with a zero residual, the fp32-accurate one.
// On every compiled SIMD target (AVX-512 and the others round t differently).
TEST(SiluEpilogue, EveryHalfInputWithinOneRounding) {
  const ScopedTargetMock restore_targets;
  for (DType dtype : {DType::BF16, DType::F16}) {
    std::vector<float> inputs;
    for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
      const float v = dtype == DType::BF16 ? bf16_to_f32({uint16_t(bits)}) : f16_to_f32({uint16_t(bits)});
      if (std::isfinite(v) && (dtype == DType::F16 || v >= -88.0f)) inputs.push_back(v);
    }
    const int64_t n = int64_t(inputs.size());
    const torch::Tensor x = from_floats(inputs, {1, 1, n});
    const Buffer xb = to_buffer(x, Layout::NCHW, dtype);
    const Buffer zero = to_buffer(torch::zeros({1, 1, n}, f64()), Layout::NCHW, dtype);
    for (int64_t target : hwy::SupportedAndGeneratedTargets())
      for (bool residual : {false, true}) {
        SCOPED_TRACE(fmt::format("{} {} residual={}", hwy::TargetName(target), dtype_name(dtype), residual));
        hwy::SetSupportedTargetsForTest(target);
        Buffer yb = poisoned(n, dtype);
        float mean = 0.0f, rstd = 1.0f;
        ForwardIO io;
        io.dtype = dtype;
        io.x = xb.data();
        io.y = yb.data();
        io.activation = Activation::SiLU;
        io.residual = residual ? zero.data() : nullptr;
        io.mean = &mean;
        io.rstd = &rstd;
        Arena arena;
        norm_apply(NormSpec{{1, 1, n, Layout::NCHW}}, io, arena);
        EXPECT_LE(ulp_err(from_buffer(yb, 1, 1, n, Layout::NCHW), torch::silu(x), dtype, 0.0), 1.0);
      }
  }
}

// LayerNorm rows far from zero mean (10σ: exact centring) between rows that fold: the
// 16-bit backward walks two rows in one loop only where both fold (RowGradWalk). Small
// random widths and those of real networks (130–1300: the widest go four rows at a time).
TEST(LayerNormRows, FoldedAndExactRowsAlternate) {
  for (DType dtype : {DType::F32, DType::BF16, DType::F16})
    for (bool silu : {false, true})
      for (bool wide : {false, true}) {
        Config c{Kind::LayerNorm, Layout::NHWC, dtype};
        c.odd_position_offset = 10;
        c.silu = silu;
        c.wide = wide;
        run(c);
      }
}

INSTANTIATE_TEST_SUITE_P(Norm, LayerTest, ::testing::ValuesIn(all_kinds()),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

// AdaGN (scale-shift GroupNorm, diffusers ResnetBlock2D "scale_shift" + SiLU) and AdaLN
// (DiT: LayerNorm without affine, modulated) in every storage type.
TEST(Conditioned, AdaGroupNormAndAdaLayerNorm) {
  for (Kind kind : {Kind::Group, Kind::LayerNorm})
    for (Layout layout : layouts_of(kind))
      for (DType dtype : {DType::F32, DType::BF16, DType::F16})
        for (bool affine : {true, false}) {
          Config c{kind, layout, dtype};
          c.affine = affine;
          c.modulate = true;
          c.silu = kind == Kind::Group;
          c.offset = dtype == DType::F32 ? 100.0 : 1.0;
          run(c);
          c.silu = !c.silu;
          c.residual = true;
          run(c);
        }
}

// Every SIMD target compiled into the kernels (EMU128, AVX2, AVX3 here; SSSE3/SSE4 are
// disabled) runs a forward + backward of each layer, layout and storage type, not only
// the best target of the machine. The mock is undone on exit.
TEST(SimdTargets, EveryCompiledTargetMatchesTorch) {
  const ScopedTargetMock restore_targets;
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_GE(targets.size(), 2u) << "expected EMU128 and at least one x86 SIMD target";
  std::set<size_t> dispatched;
  for (int64_t target : targets) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    for (Kind kind : all_kinds())
      for (Layout layout : layouts_of(kind))
        for (DType dtype : {DType::F32, DType::BF16, DType::F16}) {
          Config c{kind, layout, dtype};
          c.offset = dtype == DType::F32 ? 100.0 : 1.0;
          c.silu = dtype == DType::BF16;
          c.modulate = dtype == DType::F16 && (kind == Kind::Group || kind == Kind::LayerNorm);
          run(c);
        }
    dispatched.insert(hwy::GetChosenTarget().GetIndex());  // the table entry the kernels used
  }
  EXPECT_EQ(dispatched.size(), targets.size()) << "each target must select its own kernels";
}

TEST(RmsNorm, DefaultEpsIsFloat32Epsilon) {
  // Mean square ~1e-8, so eps (1.19e-7) matters.
  Arena arena;
  torch::manual_seed(fresh_seed());
  torch::Tensor x = round_to(1e-4 * torch::randn({3, 37}, f64()), DType::F32);
  std::vector<float> xv = to_floats(x), y = poisoned_f32(3 * 37), rstd = poisoned_f32(3);
  ForwardIO io;
  io.x = xv.data();
  io.y = y.data();
  io.rstd = rstd.data();
  rms_norm_forward(3, 37, std::nullopt, io, arena);
  const double feps = std::numeric_limits<float>::epsilon();
  torch::Tensor ref = x * torch::rsqrt(x.pow(2).mean(1, true) + feps);
  EXPECT_LE(rel_err(from_floats(y, {3, 37}), ref), 2e-6);
}

TEST(NormSpec, RejectsInconsistentDescriptions) {
  Arena arena;
  std::vector<float> x(12), y(12), m(12), r(12);
  ForwardIO io;
  io.x = x.data();
  io.y = y.data();
  io.mean = m.data();
  io.rstd = r.data();
  EXPECT_THROW(group_norm_forward({1, 6, 2, Layout::NCHW}, 4, 1e-5f, io, arena), Error);  // 4 ∤ 6
  EXPECT_THROW(group_norm_forward({0, 6, 2, Layout::NCHW}, 3, 1e-5f, io, arena), Error);
  EXPECT_THROW(batch_norm_forward({1, 12, 1, Layout::NCHW}, {}, {}, io, arena), Error);  // 1 value per channel
  io.dtype = DType::I32;
  EXPECT_THROW(group_norm_forward({1, 6, 2, Layout::NCHW}, 3, 1e-5f, io, arena), Error);
}

// norm_forward then norm_backward of `spec` (γ = 1.5, β = 0.25) on x and dy ([N, C, S],
// stored as `dtype` in spec's layout), once per thread count in turn; the bytes of y, dx,
// mean, rstd, dγ and dβ of each run. From run `recompute_from` on, the backward computes
// SiLU' twice instead of keeping du in the buffers that kept_du_floats bounds.
std::vector<std::vector<uint8_t>> bits_per_run(const NormSpec& spec, const torch::Tensor& x, const torch::Tensor& dy,
                                               DType dtype, Activation act, const std::vector<int>& threads,
                                               size_t recompute_from = SIZE_MAX) {
  const NormShape& sh = spec.shape;
  const int64_t K = spec.stat_count(), C = sh.c;
  const Buffer xb = to_buffer(x, sh.layout, dtype), gb = to_buffer(dy, sh.layout, dtype);
  const std::vector<float> gamma(size_t(C), 1.5f), beta(size_t(C), 0.25f);
  const ScopedValue restore_kept(norm_detail::kept_du_floats);
  const ScopedThreadCount restore_threads;
  std::vector<std::vector<uint8_t>> outs;
  for (int t : threads) {
    omp_set_num_threads(t);
    if (outs.size() == recompute_from) norm_detail::kept_du_floats = 0;
    Arena arena;
    Buffer yb = poisoned(sh.numel(), dtype), dxb = poisoned(sh.numel(), dtype);
    std::vector<float> mean(K), rstd(K), dgamma(C), dbeta(C);
    ForwardIO io;
    io.dtype = dtype;
    io.x = xb.data();
    io.y = yb.data();
    io.gamma = gamma.data();
    io.beta = beta.data();
    io.activation = act;
    io.mean = mean.data();
    io.rstd = rstd.data();
    norm_forward(spec, io, arena);
    BackwardIO bio;
    bio.dtype = dtype;
    bio.x = xb.data();
    bio.dy = gb.data();
    bio.dx = dxb.data();
    bio.gamma = gamma.data();
    bio.beta = beta.data();
    bio.activation = act;
    bio.mean = mean.data();
    bio.rstd = rstd.data();
    bio.dgamma = dgamma.data();
    bio.dbeta = dbeta.data();
    norm_backward(spec, bio, false, arena);
    std::vector<uint8_t> bits = yb.bytes;
    bits.insert(bits.end(), dxb.bytes.begin(), dxb.bytes.end());
    for (const std::vector<float>* v : {&mean, &rstd, &dgamma, &dbeta})
      bits.insert(bits.end(), reinterpret_cast<const uint8_t*>(v->data()),
                  reinterpret_cast<const uint8_t*>(v->data() + v->size()));
    outs.push_back(std::move(bits));
  }
  return outs;
}

TEST(Determinism, SameBitsOnRepeatAndAcrossThreadCounts) {
  // 64 threads exceed the 2 samples, the 16 group statistics, the 6 position tiles and the
  // 40 rows: the engine then takes its two-pass paths instead of the fused ones, which
  // must give the same bits; so must the backwards that compute SiLU' twice instead of
  // keeping du (the last two runs, fused and two-pass). Sample 0 sits 5σ from zero and
  // keeps its centring, sample 1 folds it.
  torch::manual_seed(fresh_seed());
  const int64_t N = 2, C = 64, S = 3000;
  const torch::Tensor offset = torch::tensor({5.0, 0.0}, f64()).reshape({N, 1, 1});
  torch::Tensor x = round_to(offset + torch::randn({N, C, S}, f64()), DType::F32);
  torch::Tensor dy = round_to(torch::randn({N, C, S}, f64()), DType::F32);
  struct Case {
    const char* name;
    Reduce reduce;
    int64_t groups;
    bool center;
    std::vector<Layout> layouts;
    int64_t positions = S;
  };
  // Channels-last rows over 20 positions: 40 statistics, fewer than 64 threads.
  const Case cases[] = {{"GroupNorm", Reduce::Group, 8, true, {Layout::NCHW, Layout::NHWC}},
                        {"PixelNorm", Reduce::Position, 1, false, {Layout::NCHW}},
                        {"channels-first LayerNorm", Reduce::Position, 1, true, {Layout::NCHW}},
                        {"LayerNorm rows", Reduce::Position, 1, true, {Layout::NHWC}, 20},
                        {"RMSNorm rows", Reduce::Position, 1, false, {Layout::NHWC}, 20}};
  for (const Case& k : cases)
    for (Layout layout : k.layouts)
      for (Activation act : {Activation::None, Activation::SiLU}) {
        SCOPED_TRACE(k.name);
        SCOPED_TRACE(layout == Layout::NCHW ? "NCHW" : "NHWC");
        SCOPED_TRACE(act == Activation::SiLU ? "SiLU" : "no activation");
        NormSpec spec;
        spec.shape = {N, C, k.positions, layout};
        spec.reduce = k.reduce;
        spec.groups = k.groups;
        spec.center = k.center;
        const auto outs = bits_per_run(spec, x.narrow(2, 0, k.positions).contiguous(),
                                       dy.narrow(2, 0, k.positions).contiguous(), DType::F32, act,
                                       {1, 2, 1, 64, 2, 64}, 4);
        for (size_t i = 1; i < outs.size(); ++i) EXPECT_EQ(outs[0], outs[i]) << "run " << i;
      }
}

TEST(Determinism, ForwardCalledFromInsideAParallelRegion) {
  // The channels-last Group and Channel forward shares its work among the threads of its
  // own parallel region. Called from a thread of the caller's region, that inner region
  // has one thread, which must do all of it: each of two threads normalizes its own
  // tensor, and the bytes must be those of the same call made alone.
  torch::manual_seed(fresh_seed());
  const int64_t N = 2, C = 64, S = 300;
  struct Case {
    Reduce reduce;
    int64_t groups;
  };
  for (const Case k : {Case{Reduce::Group, 8}, Case{Reduce::Channel, 1}})
    for (DType dtype : {DType::F32, DType::BF16}) {
      SCOPED_TRACE(::testing::Message() << (k.reduce == Reduce::Group ? "GroupNorm " : "BatchNorm ")
                                        << dtype_name(dtype));
      NormSpec spec;
      spec.shape = {N, C, S, Layout::NHWC};
      spec.reduce = k.reduce;
      spec.groups = k.groups;
      std::vector<Buffer> xs, alone, inside;
      for (int t = 0; t < 2; ++t) {
        xs.push_back(to_buffer(round_to(torch::randn({N, C, S}, f64()), dtype), Layout::NHWC, dtype));
        alone.push_back(poisoned(N * C * S, dtype));
        inside.push_back(poisoned(N * C * S, dtype));
      }
      const auto forward = [&](int t, Buffer& y) {
        Arena arena;
        std::vector<float> mean(size_t(spec.stat_count())), rstd(size_t(spec.stat_count()));
        ForwardIO io;
        io.dtype = dtype;
        io.x = xs[size_t(t)].data();
        io.y = y.data();
        io.mean = mean.data();
        io.rstd = rstd.data();
        norm_forward(spec, io, arena);
      };
      for (int t = 0; t < 2; ++t) forward(t, alone[size_t(t)]);
#pragma omp parallel num_threads(2)
      for (int t = omp_get_thread_num(); t < 2; t += omp_get_num_threads()) forward(t, inside[size_t(t)]);
      for (int t = 0; t < 2; ++t) EXPECT_EQ(alone[size_t(t)].bytes, inside[size_t(t)].bytes) << "tensor " << t;
    }
}

TEST(Determinism, ChannelsLastGroupTilesMatchTwoPass) {
  // GroupNorm 2×320×300 NHWC, 32 groups of 10 channels: the backward in tiles of 24 and
  // 8 groups (240 and 80 columns) on 1 and 2 threads, in two passes on 64 threads (4
  // tiles), there with du kept and computed twice: the same bits. With SiLU, du waits in
  // dx (fp32) or in the scratch (bf16). Offset 0 folds x̂, u and dx; offset 5 on the first
  // 160 channels keeps them centred, with groups that would fold in both tiles.
  torch::manual_seed(fresh_seed());
  const int64_t N = 2, C = 320, S = 300;
  NormSpec spec;
  spec.shape = {N, C, S, Layout::NHWC};
  spec.reduce = Reduce::Group;
  spec.groups = 32;
  for (DType dtype : {DType::F32, DType::BF16})
    for (double offset : {0.0, 5.0})
      for (Activation act : {Activation::None, Activation::SiLU}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(dtype) << " offset=" << offset
                                          << (act == Activation::SiLU ? " SiLU" : ""));
        const torch::Tensor shift = offset * (torch::arange(C, f64()) < C / 2).to(torch::kFloat64).view({1, C, 1});
        const torch::Tensor x = round_to(shift + torch::randn({N, C, S}, f64()), dtype);
        const torch::Tensor dy = round_to(torch::randn({N, C, S}, f64()), dtype);
        const auto outs = bits_per_run(spec, x, dy, dtype, act, {1, 2, 64, 64}, 3);
        EXPECT_EQ(outs[0], outs[1]) << "1 against 2 threads";
        EXPECT_EQ(outs[0], outs[2]) << "tiles against two passes";
        EXPECT_EQ(outs[0], outs[3]) << "tiles against two passes computing SiLU' twice";
      }
}

TEST(Determinism, ChannelsLastRowOrderSumsMatchTiles) {
  // GroupNorm 2×320×3300 NHWC (rows of 320 channels, wider than a column tile; too many
  // positions for the fused tiles) and 2×40×2400 (rows of one tile and a vector tail),
  // once with the column sums tile by tile and once with rows read whole, in memory order
  // (as x and dy beyond the last-level cache are): the same bits, fp32 and bf16, with and
  // without SiLU, folded and centred, on 64 and 2 threads.
  const ScopedValue restore_bytes(norm_detail::beyond_cache_bytes);
  torch::manual_seed(fresh_seed());
  for (int64_t C : {320, 40})
    for (DType dtype : {DType::F32, DType::BF16})
      for (double offset : {0.0, 5.0})
        for (Activation act : {Activation::None, Activation::SiLU}) {
          SCOPED_TRACE(::testing::Message() << "C=" << C << " " << dtype_name(dtype) << " offset=" << offset
                                            << (act == Activation::SiLU ? " SiLU" : ""));
          const int64_t N = 2, S = C == 320 ? 3300 : 2400;
          NormSpec spec;
          spec.shape = {N, C, S, Layout::NHWC};
          spec.reduce = Reduce::Group;
          spec.groups = C / 10;
          const torch::Tensor x = round_to(offset + torch::randn({N, C, S}, f64()), dtype);
          const torch::Tensor dy = round_to(torch::randn({N, C, S}, f64()), dtype);
          norm_detail::beyond_cache_bytes = std::numeric_limits<int64_t>::max();
          const auto tiles = bits_per_run(spec, x, dy, dtype, act, {64});
          norm_detail::beyond_cache_bytes = 0;
          const auto rows = bits_per_run(spec, x, dy, dtype, act, {64, 2});
          EXPECT_EQ(tiles[0], rows[0]) << "rows in order against tiles";
          EXPECT_EQ(tiles[0], rows[1]) << "rows in order, 2 threads, against tiles";
        }
}

TEST(Determinism, Bf16LayerNormRowsBackwardStoresAsIntegerRounding) {
  // The bf16 LayerNorm backward stores dx two vectors at a time, on AVX-512 with
  // vcvtne2ps2bf16 (which reads fp32 denormals as 0) unless a vector holds a denormal, else
  // with the integer rounding: both must give the same bits (a CPU without AVX512-BF16
  // takes the integer rounding in both runs). Rows of 325 columns (10 pairs and a tail),
  // half of them with dy of ~1e-39 so that dx is denormal there.
  const ScopedValue native_bf16(cpu::use_avx512_bf16);
  torch::manual_seed(fresh_seed());
  const int64_t N = 2, C = 325, S = 12;
  NormSpec spec;
  spec.shape = {N, C, S, Layout::NHWC};
  spec.reduce = Reduce::Position;
  const torch::Tensor tiny = torch::where(torch::arange(S) % 2 == 0, torch::tensor(1e-39, f64()),
                                          torch::tensor(1.0, f64()));
  const torch::Tensor x = round_to(torch::randn({N, C, S}, f64()), DType::BF16);
  const torch::Tensor dy = round_to(torch::randn({N, C, S}, f64()) * tiny, DType::BF16);
  for (Activation act : {Activation::None, Activation::SiLU}) {
    SCOPED_TRACE(act == Activation::SiLU ? "SiLU" : "no activation");
    std::vector<std::vector<uint8_t>> outs;
    for (bool native : {native_bf16.saved(), false}) {
      cpu::use_avx512_bf16 = native;
      outs.push_back(bits_per_run(spec, x, dy, DType::BF16, act, {2})[0]);
    }
    EXPECT_EQ(outs[0], outs[1]);
    // dx follows y in the bytes: some of it must be denormal for the test to mean anything.
    const size_t count = size_t(N * C * S);
    int64_t denormal = 0;
    for (size_t i = 0; i < count; ++i) {
      uint16_t bits;
      std::memcpy(&bits, outs[0].data() + 2 * (count + i), 2);
      denormal += (bits & 0x7F80) == 0 && (bits & 0x7F) != 0;
    }
    EXPECT_GT(denormal, 100);
  }
}

TEST(Determinism, LayerNormRowsPipelinedMatchTwoPass) {
  // LayerNorm rows take the fused path (16-bit rows pipelined: one batch's apply with the
  // next batch's sums) on 1 and 2 threads, and the two-pass path on 64 threads (42 rows):
  // the same bits. 42 rows make batches of 8 with a short last one; width 70 and 325
  // leave vector tails; offset 5 makes the rows centred (not folded). On every compiled
  // SIMD target.
  const ScopedTargetMock restore_targets;
  const ScopedThreadCount restore_threads;
  torch::manual_seed(fresh_seed());
  const int64_t B = 2, T = 21;
  for (int64_t target : hwy::SupportedAndGeneratedTargets())
    for (DType dtype : {DType::F32, DType::BF16, DType::F16})
      for (int64_t D : {64, 70, 325})
        for (double offset : {0.0, 5.0}) {
          SCOPED_TRACE(::testing::Message() << hwy::TargetName(target) << " " << dtype_name(dtype) << " D=" << D
                                            << " offset=" << offset);
          hwy::SetSupportedTargetsForTest(target);
          torch::Tensor x = round_to(offset + torch::randn({B * T, D, 1}, f64()), dtype);
          const Buffer xb = to_buffer(x, Layout::NCHW, dtype);
          std::vector<float> gamma(static_cast<size_t>(D)), beta(static_cast<size_t>(D));
          for (int64_t c = 0; c < D; ++c) {
            gamma[size_t(c)] = 1.0f + 0.01f * float(c);
            beta[size_t(c)] = 0.1f * float(c % 7);
          }
          std::vector<std::vector<uint8_t>> outs;
          for (int threads : {1, 2, 64}) {
            omp_set_num_threads(threads);
            Arena arena;
            Buffer yb = poisoned(B * T * D, dtype);
            std::vector<float> mean = poisoned_f32(B * T), rstd = poisoned_f32(B * T);
            ForwardIO io;
            io.dtype = dtype;
            io.x = xb.data();
            io.y = yb.data();
            io.gamma = gamma.data();
            io.beta = beta.data();
            io.mean = mean.data();
            io.rstd = rstd.data();
            layer_norm_forward(B, T, D, 1e-5f, io, arena);
            std::vector<uint8_t> bits = yb.bytes;
            for (const std::vector<float>* v : {&mean, &rstd})
              bits.insert(bits.end(), reinterpret_cast<const uint8_t*>(v->data()),
                          reinterpret_cast<const uint8_t*>(v->data() + v->size()));
            outs.push_back(std::move(bits));
          }
          EXPECT_EQ(outs[0], outs[1]) << "1 against 2 threads";
          EXPECT_EQ(outs[0], outs[2]) << "fused against two-pass";
        }
}

}  // namespace
}  // namespace diffnorm::test
