#include "ops/conv2d.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "ops/compute_precision.h"
#include "ops/dnnl_context.h"
#include "ops/tensor_checks.h"

namespace diffnorm::ops {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

namespace {

// Memory holding a copy of `t` (oneDNN owns the buffer).
dnnl::memory copy_to_memory(const Tensor& t, const dnnl::memory::desc& desc) {
  dnnl::memory m(desc, dnnl_engine());
  std::memcpy(m.get_data_handle(), t.raw(), t.nbytes());
  return m;
}

}  // namespace

Conv2d::Conv2d(const Tensor& weight, const Tensor& bias, Conv2dOptions options)
    : options_(options), compute_type_(dnnl_compute_type()), mutex_(std::make_unique<std::mutex>()) {
  check_f32_contiguous(weight, "weight", "Conv2d");
  DN_CHECK(weight.dim() == 4, "Conv2d: weight must be [O, I, kH, kW], got {}", weight.describe());
  out_channels_ = weight.size(0);
  in_channels_ = weight.size(1);
  kernel_h_ = weight.size(2);
  kernel_w_ = weight.size(3);
  DN_CHECK(weight.numel() > 0, "Conv2d: empty weight {}", weight.describe());
  DN_CHECK(options.stride >= 1, "Conv2d: stride must be >= 1, got {}", options.stride);
  DN_CHECK(options.pad_top >= 0 && options.pad_left >= 0 && options.pad_bottom >= 0 && options.pad_right >= 0,
           "Conv2d: padding must be >= 0, got top {} left {} bottom {} right {}", options.pad_top,
           options.pad_left, options.pad_bottom, options.pad_right);
  has_bias_ = bias.defined() && bias.numel() > 0;
  if (has_bias_) {
    check_f32_contiguous(bias, "bias", "Conv2d");
    DN_CHECK(bias.dim() == 1 && bias.size(0) == out_channels_, "Conv2d: bias must be [{}] for weight {}, got {}",
             out_channels_, weight.describe(), bias.describe());
    bias_ = copy_to_memory(bias, {{out_channels_}, dt::f32, tag::x});
  }
  // Settle the weight format now (for a nominal input) so that the PyTorch-layout copy
  // is not kept: later plans that want another format reorder from this one.
  weights_.push_back(copy_to_memory(weight, {{out_channels_, in_channels_, kernel_h_, kernel_w_}, dt::f32, tag::oihw}));
  const int64_t nominal = std::max<int64_t>({kernel_h_, kernel_w_, 32});
  const Plan& plan = plan_for(1, nominal, nominal, false);
  // plan_for reordered into the preferred format; drop the plain copy unless it is that format.
  if (plan.weights_index != 0) {
    weights_.erase(weights_.begin());
    for (auto& [key, p] : plans_) p.weights_index -= 1;
  }
}

Conv2d::Conv2d(Conv2d&&) noexcept = default;
Conv2d& Conv2d::operator=(Conv2d&&) noexcept = default;
Conv2d::~Conv2d() = default;

Shape Conv2d::output_shape(const Shape& s) const {
  DN_CHECK(s.size() == 4 && s[3] == in_channels_,
           "Conv2d({}->{}, {}x{}): src must be NHWC [N, H, W, {}], got {}", in_channels_, out_channels_,
           kernel_h_, kernel_w_, in_channels_, shape_str(s));
  const int64_t hp = s[1] + options_.pad_top + options_.pad_bottom;
  const int64_t wp = s[2] + options_.pad_left + options_.pad_right;
  DN_CHECK(hp >= kernel_h_ && wp >= kernel_w_,
           "Conv2d: padded input {}x{} is smaller than the {}x{} kernel (src {})", hp, wp, kernel_h_, kernel_w_,
           shape_str(s));
  return {s[0], (hp - kernel_h_) / options_.stride + 1, (wp - kernel_w_) / options_.stride + 1, out_channels_};
}

std::size_t Conv2d::weights_in(const dnnl::memory::desc& desc) const {
  for (std::size_t i = 0; i < weights_.size(); ++i)
    if (weights_[i].get_desc() == desc) return i;
  dnnl::memory reordered(desc, dnnl_engine());
  dnnl::reorder(weights_.front(), reordered).execute(dnnl_stream(), weights_.front(), reordered);
  dnnl_stream().wait();
  weights_.push_back(reordered);
  return weights_.size() - 1;
}

const Conv2d::Plan& Conv2d::plan_for(int64_t n, int64_t h, int64_t w, bool accumulate) const {
  const auto key = std::make_tuple(n, h, w, accumulate);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second;

  const Shape out = output_shape({n, h, w, in_channels_});
  // oneDNN describes tensors by logical NCHW dims; format_tag::nhwc gives the channels-last layout.
  const dnnl::memory::desc src_desc({n, in_channels_, h, w}, compute_type_, tag::nhwc);
  const dnnl::memory::desc dst_desc({n, out_channels_, out[1], out[2]}, dt::f32, tag::nhwc);
  const dnnl::memory::desc weights_any({out_channels_, in_channels_, kernel_h_, kernel_w_}, compute_type_, tag::any);
  const dnnl::memory::dims strides = {options_.stride, options_.stride};
  const dnnl::memory::dims pad_l = {options_.pad_top, options_.pad_left};
  const dnnl::memory::dims pad_r = {options_.pad_bottom, options_.pad_right};
  const auto desc = has_bias_
      ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                        src_desc, weights_any, bias_.get_desc(), dst_desc, strides, pad_l, pad_r)
      : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                        src_desc, weights_any, dst_desc, strides, pad_l, pad_r);
  const auto pd = checked_primitive_desc<dnnl::convolution_forward::primitive_desc>(desc, accumulate, "Conv2d");
  Plan plan{dnnl::convolution_forward(pd), src_desc, dst_desc, weights_in(pd.weights_desc())};
  return plans_.emplace(key, std::move(plan)).first->second;
}

void Conv2d::forward(const Tensor& src, Tensor& dst, bool accumulate) const {
  check_f32_contiguous(src, "src", "Conv2d::forward");
  check_f32_contiguous(dst, "dst", "Conv2d::forward");
  const Shape out = output_shape(src.shape());
  DN_CHECK(dst.shape() == out, "Conv2d::forward: dst must be {} for src {}, got {}", shape_str(out),
           shape_str(src.shape()), shape_str(dst.shape()));
  if (src.numel() == 0 || dst.numel() == 0) return;

  std::unique_lock lock(*mutex_);
  const Plan& plan = plan_for(src.size(0), src.size(1), src.size(2), accumulate);
  const dnnl::memory weights = weights_[plan.weights_index];  // a handle copy: weights_ may grow
  lock.unlock();

  const Tensor rounded = compute_type_ == dt::bf16 ? to_bf16(src) : Tensor();
  execute_weighted(plan.primitive, plan.src_desc, rounded.defined() ? rounded.raw() : src.raw(), weights,
                   has_bias_ ? &bias_ : nullptr, plan.dst_desc, dst.raw());
}

Tensor Conv2d::forward(const Tensor& src) const {
  Tensor dst = Tensor::empty(output_shape(src.shape()));
  forward(src, dst, false);
  return dst;
}

}  // namespace diffnorm::ops
