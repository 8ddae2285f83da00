// The normalization library: BatchNorm, LayerNorm, InstanceNorm, GroupNorm, RMSNorm,
// PixelNorm and the conditioned forms (AdaGN / AdaLN), forward and backward, plus the
// AdaBN statistics machinery.
//
// One statistics engine and one apply engine, driven by a NormSpec (which values are
// reduced together, in which layout); every layer below is a thin named front over
//   norm_forward / norm_apply / norm_backward.
//
// Forward, per element (x̂ = (x − μ)·rstd, or x·rstd for the RMS family):
//   y = act( (x̂·γ + β) · (1 + scale) + shift ) + residual
// with γ/β per channel (absent = 1/0), scale/shift per (sample, channel) (absent = 0),
// act = identity or SiLU, residual an optional tensor of x's shape and layout.
// Statistics are fp32 (accumulated via shifted sums merged in double with Chan's
// formula); x, y, residual, dy and dx may be stored as f32, f16 or bf16 (one dtype per
// call); γ, β, scale, shift, mean, rstd, running statistics and all gradients of
// parameters are fp32. Outputs are rounded once. SiLU is computed to fp32 accuracy, except
// before a bf16 or f16 y with no residual, where it is computed to 2^−13.6 or 2^−17.3
// relative: y is still within one rounding of the exact value (and equals the rounding of
// the fp32-accurate SiLU for all but ~0.4 % or ~0.1 % of values). Results are
// deterministic and do not depend on the thread count (fixed chunking, fixed merge order).
//
// The raw-buffer API writes into caller-provided buffers and takes scratch memory from
// an Arena (it does not reset it): no allocation in the hot path once the arena is warm.
// The Tensor API allocates its outputs and is for tools and tests.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "diffnorm/arena.h"
#include "diffnorm/dtype.h"
#include "diffnorm/tensor.h"

namespace diffnorm {

/// Where the channel axis lives: [N, C, *S] (NCHW, channels first) or [N, *S, C] (NHWC,
/// channels last). LayerNorm's [B, T, D] is NHWC with S = T.
enum class Layout : uint8_t { NCHW, NHWC };

enum class Activation : uint8_t { None, SiLU };

/// An activation tensor as N samples × C channels × S positions (S = product of the
/// spatial / sequence dims; 1 allowed) in a layout. Elements are contiguous.
struct NormShape {
  int64_t n = 1;
  int64_t c = 1;
  int64_t s = 1;
  Layout layout = Layout::NCHW;
  int64_t numel() const { return n * c * s; }
};

/// Which values share one (mean, rstd) statistic.
enum class Reduce : uint8_t {
  Group,     // per (n, g), over the C/G channels of group g and all S: GroupNorm, InstanceNorm (G = C)
  Channel,   // per c, over N and S: BatchNorm
  Position,  // per (n, s), over C: LayerNorm over the last dim, RMSNorm, PixelNorm
};

/// The reduction description every layer reduces to.
struct NormSpec {
  NormShape shape;
  Reduce reduce = Reduce::Group;
  int64_t groups = 1;  // Reduce::Group only; must divide C
  bool center = true;  // false: RMS family, x̂ = x·rsqrt(mean(x²) + eps), mean reported as 0
  float eps = 1e-5f;

  /// Number of statistics: N·G (Group), C (Channel), N·S (Position).
  int64_t stat_count() const;
  /// Index of the statistic that element (n, c, s) uses.
  int64_t stat_index(int64_t n, int64_t c, int64_t s) const;
  /// Throws diffnorm::Error when the description is inconsistent (sizes, groups).
  void validate() const;
};

/// Per-(sample, channel) modulation `·(1 + scale) + shift`, both [N, C] fp32 row-major
/// (N = shape.n: for LayerNorm [B, T, D] that is [B, D]). Either may be null (= 0).
/// Not available with Reduce::Channel (BatchNorm).
struct Modulation {
  const float* scale = nullptr;
  const float* shift = nullptr;
  bool active() const { return scale != nullptr || shift != nullptr; }
};

/// Buffers of one forward. mean/rstd are outputs of norm_forward and inputs of norm_apply.
struct ForwardIO {
  DType dtype = DType::F32;  // storage of x, y and residual
  const void* x = nullptr;
  void* y = nullptr;                 // may equal x (in place)
  const float* gamma = nullptr;      // [C]; null = 1
  const float* beta = nullptr;       // [C]; null = 0
  Modulation modulation;
  Activation activation = Activation::None;
  const void* residual = nullptr;    // x's shape, layout and dtype; null = none
  float* mean = nullptr;             // [stat_count]
  float* rstd = nullptr;             // [stat_count]
};

/// Buffers of one backward. mean/rstd are the forward's (or the constants used in eval).
/// The residual's gradient is dy itself and is not written.
struct BackwardIO {
  DType dtype = DType::F32;  // storage of x, dy and dx
  const void* x = nullptr;
  const void* dy = nullptr;
  void* dx = nullptr;                // null = not wanted
  const float* gamma = nullptr;
  const float* beta = nullptr;       // needed for dscale when beta is present
  Modulation modulation;
  Activation activation = Activation::None;
  const float* mean = nullptr;
  const float* rstd = nullptr;
  float* dgamma = nullptr;           // [C]; null = not wanted
  float* dbeta = nullptr;            // [C]
  float* dscale = nullptr;           // [N, C]
  float* dshift = nullptr;           // [N, C]
};

// ---- the engine ---------------------------------------------------------------------

/// Statistics of x (written to io.mean / io.rstd), then the apply.
void norm_forward(const NormSpec& spec, const ForwardIO& io, Arena& arena);
/// The apply alone with the statistics given in io.mean / io.rstd (eval-mode BatchNorm,
/// InstanceNorm with running statistics).
void norm_apply(const NormSpec& spec, const ForwardIO& io, Arena& arena);
/// Gradients. `stats_constant`: the statistics did not depend on x (eval mode), so
/// dx = dx̂·rstd; otherwise the gradient flows through mean and rstd.
void norm_backward(const NormSpec& spec, const BackwardIO& io, bool stats_constant, Arena& arena);

/// Per-statistic moments in double: count, mean and the sum of squared deviations M2,
/// for `stat_count()` statistics (the statistics engine's result before eps/rstd).
void norm_moments(const NormSpec& spec, DType dtype, const void* x, double* count, double* mean,
                  double* m2, Arena& arena);

// ---- layers, raw buffers ------------------------------------------------------------

/// GroupNorm(G): mean/rstd [N·G]. With modulation it is AdaGN / scale-shift GroupNorm.
void group_norm_forward(const NormShape& shape, int64_t groups, float eps, const ForwardIO& io, Arena& arena);
void group_norm_backward(const NormShape& shape, int64_t groups, float eps, const BackwardIO& io, Arena& arena);

/// LayerNorm over the last dim of [batch, tokens, dim] (any trailing dims flattened into
/// dim, any leading dims into batch·tokens); γ/β [dim]; modulation [batch, dim] (AdaLN;
/// DiT's adaLN: no γ/β). mean/rstd [batch·tokens].
void layer_norm_forward(int64_t batch, int64_t tokens, int64_t dim, float eps, const ForwardIO& io, Arena& arena);
void layer_norm_backward(int64_t batch, int64_t tokens, int64_t dim, float eps, const BackwardIO& io, Arena& arena);

/// RMSNorm over the last dim (torch.nn.RMSNorm): y = x·rsqrt(mean(x²) + eps)·w.
/// eps = nullopt means torch.finfo(float32).eps. Only io.gamma (the weight) is used
/// among the parameters. rstd [rows]; mean is written as 0 when given.
void rms_norm_forward(int64_t rows, int64_t dim, std::optional<float> eps, const ForwardIO& io, Arena& arena);
void rms_norm_backward(int64_t rows, int64_t dim, std::optional<float> eps, const BackwardIO& io, Arena& arena);

/// PixelNorm (ProGAN): y = x / sqrt(mean over C of x² + eps), per (n, s); no parameters.
/// rstd [N·S].
void pixel_norm_forward(const NormShape& shape, float eps, const ForwardIO& io, Arena& arena);
void pixel_norm_backward(const NormShape& shape, float eps, const BackwardIO& io, Arena& arena);
inline constexpr float kPixelNormEps = 1e-8f;

/// Running statistics of BatchNorm / InstanceNorm (fp32 [C]) and the batch counter.
/// All null = track_running_stats = false.
struct RunningStats {
  float* mean = nullptr;
  float* var = nullptr;
  int64_t* num_batches_tracked = nullptr;
  bool tracked() const { return mean != nullptr && var != nullptr; }
};

struct BatchNormOptions {
  float eps = 1e-5f;
  std::optional<float> momentum = 0.1f;  // nullopt: cumulative average, 1/num_batches_tracked
  bool training = true;
};

/// BatchNorm (1d: s = 1 or the length; 2d: s = H·W; 3d: s = D·H·W). Training (or no
/// running statistics): batch statistics (biased variance); when tracked, the running
/// statistics are updated with the unbiased batch variance and num_batches_tracked += 1.
/// Eval with running statistics: y uses them. mean/rstd [C] are those used.
/// Modulation is not supported; SiLU and residual are.
void batch_norm_forward(const NormShape& shape, const BatchNormOptions& options, RunningStats running,
                        const ForwardIO& io, Arena& arena);
/// `training` as in the forward: in eval mode with running statistics they are constants.
void batch_norm_backward(const NormShape& shape, const BatchNormOptions& options, bool running_tracked,
                         const BackwardIO& io, Arena& arena);

struct InstanceNormOptions {
  float eps = 1e-5f;
  float momentum = 0.1f;
  bool training = true;
};

/// InstanceNorm: statistics per (n, c) over S. Running statistics (when tracked) are
/// updated in training with the mean over n of the instance means / unbiased variances
/// (num_batches_tracked is not incremented, as in PyTorch); in eval with tracked running
/// statistics those are used. mean/rstd [N·C] are those used.
void instance_norm_forward(const NormShape& shape, const InstanceNormOptions& options, RunningStats running,
                           const ForwardIO& io, Arena& arena);
void instance_norm_backward(const NormShape& shape, const InstanceNormOptions& options, bool running_tracked,
                            const BackwardIO& io, Arena& arena);

// ---- AdaBN: re-estimating BatchNorm statistics on target-domain data -----------------

/// Mode (a), torch.optim.swa_utils.update_bn: running mean/var := 0/1, counter := 0; then
/// run batch_norm_forward in training mode with momentum = nullopt on each batch.
void reset_running_stats(RunningStats running, int64_t channels);

/// Mode (b), exact: population mean and variance per channel of everything fed, each batch
/// reduced in double and merged with Chan's formula (batch order changes only rounding).
class BatchNormStatsAccumulator {
 public:
  explicit BatchNormStatsAccumulator(int64_t channels);
  /// One batch of the layer's input.
  void add(const NormShape& shape, DType dtype, const void* x, Arena& arena);
  void add(const Tensor& x, Layout layout);
  int64_t channels() const { return int64_t(mean_.size()); }
  /// Values per channel seen so far.
  double count() const { return count_; }
  const std::vector<double>& mean() const { return mean_; }
  /// Biased (population) or unbiased (n − 1) variance.
  std::vector<double> variance(bool unbiased = false) const;
  /// Writes the statistics rounded to fp32 (the biased variance unless asked otherwise).
  void finalize(float* running_mean, float* running_var, bool unbiased = false) const;

 private:
  double count_ = 0;
  std::vector<double> mean_;
  std::vector<double> m2_;
};

// ---- layers, Tensor API (allocates outputs; x of dtype f32/f16/bf16) -----------------

/// Optional parameters of a forward, all fp32 except residual (x's dtype and shape).
struct NormParams {
  Tensor gamma, beta;    // [C]
  Tensor scale, shift;   // [N, C] modulation
  Activation activation = Activation::None;
  Tensor residual;
};

struct NormOutput {
  Tensor y;     // x's shape and dtype
  Tensor mean;  // fp32 [stat_count]
  Tensor rstd;  // fp32 [stat_count]
};

struct NormGrads {
  Tensor dx;                // x's shape and dtype
  Tensor dgamma, dbeta;     // [C] when gamma / beta were given
  Tensor dscale, dshift;    // [N, C] when modulated
};

/// The shape of a Tensor as N × C × S in a layout (dims ≥ 2: [N, C, ...] or [N, ..., C]).
NormShape norm_shape_of(const Tensor& x, Layout layout);

NormOutput group_norm(const Tensor& x, Layout layout, int64_t groups, float eps, const NormParams& params = {});
NormGrads group_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward, Layout layout,
                              int64_t groups, float eps, const NormParams& params = {});

/// x [..., D] (modulation requires x [B, T, D] and scale/shift [B, D]).
NormOutput layer_norm(const Tensor& x, float eps, const NormParams& params = {});
NormGrads layer_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward, float eps,
                              const NormParams& params = {});

NormOutput rms_norm(const Tensor& x, std::optional<float> eps, const Tensor& weight = {});
NormGrads rms_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward,
                            std::optional<float> eps, const Tensor& weight = {});

NormOutput pixel_norm(const Tensor& x, Layout layout, float eps = kPixelNormEps);
NormGrads pixel_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward, Layout layout,
                              float eps = kPixelNormEps);

NormOutput batch_norm(const Tensor& x, Layout layout, const BatchNormOptions& options, RunningStats running,
                      const NormParams& params = {});
NormGrads batch_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward, Layout layout,
                              const BatchNormOptions& options, bool running_tracked, const NormParams& params = {});

NormOutput instance_norm(const Tensor& x, Layout layout, const InstanceNormOptions& options, RunningStats running,
                         const NormParams& params = {});
NormGrads instance_norm_backward(const Tensor& x, const Tensor& dy, const NormOutput& forward, Layout layout,
                                 const InstanceNormOptions& options, bool running_tracked,
                                 const NormParams& params = {});

}  // namespace diffnorm
