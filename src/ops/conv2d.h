// Conv2d: 2-D convolution (groups = 1) on channels-last activations through oneDNN.
//
//   dst[n, y, x, o] = bias[o] + sum_{i, ky, kx} src[n, y*s - pt + ky, x*s - pl + kx, i] * w[o, i, ky, kx]
//
// (out-of-range source pixels read as zero). src [N, H, W, I] and dst [N, Ho, Wo, O] are
// contiguous f32, Ho = (H + pt + pb - kH) / s + 1 (likewise Wo). The weights arrive once in
// PyTorch layout [O, I, kH, kW]; the Conv2d reorders them into the format oneDNN prefers
// and keeps only that copy. One oneDNN primitive is created per input shape and reused.
// With `accumulate`, dst += conv(src) + bias (oneDNN post-op sum: a fused residual add).
// The arithmetic is the compute_precision() at construction (ops/compute_precision.h):
// with BF16 the weights are kept in bf16 and src is rounded to bf16 per call; dst stays f32.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "diffnorm/tensor.h"

namespace diffnorm::ops {

struct Conv2dOptions {
  int64_t stride = 1;
  // Zero padding per side; PyTorch's padding=p is {p, p, p, p}. The SD VAE encoder's
  // downsampler pads only right and bottom by one: {0, 0, 1, 1}.
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;

  /// PyTorch Conv2d(stride, padding): symmetric padding.
  static Conv2dOptions symmetric(int64_t padding, int64_t stride = 1) {
    return {stride, padding, padding, padding, padding};
  }
};

class Conv2d {
 public:
  /// weight f32 [O, I, kH, kW]; bias f32 [O] or an undefined Tensor for none.
  Conv2d(const Tensor& weight, const Tensor& bias, Conv2dOptions options);
  Conv2d(Conv2d&&) noexcept;
  Conv2d& operator=(Conv2d&&) noexcept;
  ~Conv2d();

  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  int64_t kernel_h() const { return kernel_h_; }
  int64_t kernel_w() const { return kernel_w_; }
  const Conv2dOptions& options() const { return options_; }

  /// [N, Ho, Wo, O] for src [N, H, W, I]; throws if src does not fit this convolution.
  Shape output_shape(const Shape& src_nhwc) const;
  /// dst = conv(src) + bias, or dst += conv(src) + bias when accumulate.
  void forward(const Tensor& src, Tensor& dst, bool accumulate = false) const;
  /// A new dst.
  Tensor forward(const Tensor& src) const;

 private:
  struct Plan {
    dnnl::convolution_forward primitive;
    dnnl::memory::desc src_desc, dst_desc;
    std::size_t weights_index;  // into weights_
  };
  const Plan& plan_for(int64_t n, int64_t h, int64_t w, bool accumulate) const;
  std::size_t weights_in(const dnnl::memory::desc& desc) const;

  int64_t in_channels_ = 0, out_channels_ = 0, kernel_h_ = 0, kernel_w_ = 0;
  Conv2dOptions options_;
  dnnl::memory::data_type compute_type_;  // of src and weights (dst and bias are f32)
  bool has_bias_ = false;
  dnnl::memory bias_;
  // The weights in every format a plan has asked for (usually exactly one).
  mutable std::vector<dnnl::memory> weights_;
  mutable std::map<std::tuple<int64_t, int64_t, int64_t, bool>, Plan> plans_;
  mutable std::unique_ptr<std::mutex> mutex_;
};

}  // namespace diffnorm::ops
