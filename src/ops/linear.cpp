#include "ops/linear.h"

#include <cstring>

#include "core/check.h"
#include "ops/compute_precision.h"
#include "ops/dnnl_context.h"
#include "ops/tensor_checks.h"

namespace diffnorm::ops {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

Linear::Linear(const Tensor& weight, const Tensor& bias)
    : compute_type_(dnnl_compute_type()), mutex_(std::make_unique<std::mutex>()) {
  check_f32_contiguous(weight, "weight", "Linear");
  DN_CHECK(weight.dim() == 2 && weight.numel() > 0, "Linear: weight must be a non-empty [out, in], got {}",
           weight.describe());
  out_features_ = weight.size(0);
  in_features_ = weight.size(1);
  has_bias_ = bias.defined() && bias.numel() > 0;
  if (has_bias_) {
    check_f32_contiguous(bias, "bias", "Linear");
    DN_CHECK(bias.dim() == 1 && bias.size(0) == out_features_, "Linear: bias must be [{}] for weight {}, got {}",
             out_features_, weight.describe(), bias.describe());
    bias_ = dnnl::memory({{1, out_features_}, dt::f32, tag::ab}, dnnl_engine());
    std::memcpy(bias_.get_data_handle(), bias.raw(), bias.nbytes());
  }
  // PyTorch's [out, in] row-major is W^T [in, out] in column-major order (tag::ba).
  dnnl::memory plain({{in_features_, out_features_}, dt::f32, tag::ba}, dnnl_engine());
  std::memcpy(plain.get_data_handle(), weight.raw(), weight.nbytes());
  weights_.push_back(plain);
  // Settle the format for a nominal row count and drop the plain copy if oneDNN wants another.
  const Plan& plan = plan_for(256, false);
  if (plan.weights_index != 0) {
    weights_.erase(weights_.begin());
    for (auto& [key, p] : plans_) p.weights_index -= 1;
  }
}

Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;
Linear::~Linear() = default;

Shape Linear::output_shape(const Shape& x) const {
  DN_CHECK(!x.empty() && x.back() == in_features_, "Linear({}->{}): input must be [..., {}], got {}",
           in_features_, out_features_, in_features_, shape_str(x));
  Shape y = x;
  y.back() = out_features_;
  return y;
}

std::size_t Linear::weights_in(const dnnl::memory::desc& desc) const {
  for (std::size_t i = 0; i < weights_.size(); ++i)
    if (weights_[i].get_desc() == desc) return i;
  dnnl::memory reordered(desc, dnnl_engine());
  dnnl::reorder(weights_.front(), reordered).execute(dnnl_stream(), weights_.front(), reordered);
  dnnl_stream().wait();
  weights_.push_back(reordered);
  return weights_.size() - 1;
}

const Linear::Plan& Linear::plan_for(int64_t rows, bool accumulate) const {
  const auto key = std::make_pair(rows, accumulate);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second;
  const dnnl::memory::desc src_desc({rows, in_features_}, compute_type_, tag::ab);
  const dnnl::memory::desc dst_desc({rows, out_features_}, dt::f32, tag::ab);
  const dnnl::memory::desc weights_any({in_features_, out_features_}, compute_type_, tag::any);
  const auto desc = has_bias_ ? dnnl::matmul::desc(src_desc, weights_any, bias_.get_desc(), dst_desc)
                              : dnnl::matmul::desc(src_desc, weights_any, dst_desc);
  const auto pd = checked_primitive_desc<dnnl::matmul::primitive_desc>(desc, accumulate, "Linear");
  Plan plan{dnnl::matmul(pd), src_desc, dst_desc, weights_in(pd.weights_desc())};
  return plans_.emplace(key, std::move(plan)).first->second;
}

void Linear::forward(const Tensor& x, Tensor& y, bool accumulate) const {
  check_f32_contiguous(x, "input", "Linear::forward");
  check_f32_contiguous(y, "output", "Linear::forward");
  const Shape out = output_shape(x.shape());
  DN_CHECK(y.shape() == out, "Linear::forward: output must be {} for input {}, got {}", shape_str(out),
           shape_str(x.shape()), shape_str(y.shape()));
  const int64_t rows = x.numel() / in_features_;
  if (rows == 0) return;

  std::unique_lock lock(*mutex_);
  const Plan& plan = plan_for(rows, accumulate);
  const dnnl::memory weights = weights_[plan.weights_index];  // a handle copy: weights_ may grow
  lock.unlock();

  const Tensor rounded = compute_type_ == dt::bf16 ? to_bf16(x) : Tensor();
  execute_weighted(plan.primitive, plan.src_desc, rounded.defined() ? rounded.raw() : x.raw(), weights,
                   has_bias_ ? &bias_ : nullptr, plan.dst_desc, y.raw());
}

Tensor Linear::forward(const Tensor& x) const {
  Tensor y = Tensor::empty(output_shape(x.shape()));
  forward(x, y, false);
  return y;
}

}  // namespace diffnorm::ops
