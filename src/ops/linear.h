// Linear: y = x W^T + b over the last dimension, through a oneDNN matmul.
//
//   y[r, o] = b[o] + sum_i x[r, i] * W[o, i]      for every row r of x viewed as [rows, in]
//
// x [..., in] and y [..., out] are contiguous f32. W arrives once in PyTorch layout
// [out, in]; the Linear reorders it into the format oneDNN prefers and keeps only that.
// One primitive per row count is created and reused. With `accumulate`,
// y += x W^T + b (oneDNN post-op sum: a fused residual add). The arithmetic is the
// compute_precision() at construction, as for Conv2d.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "diffnorm/tensor.h"

namespace diffnorm::ops {

class Linear {
 public:
  /// weight f32 [out, in]; bias f32 [out] or an undefined Tensor for none.
  Linear(const Tensor& weight, const Tensor& bias);
  Linear(Linear&&) noexcept;
  Linear& operator=(Linear&&) noexcept;
  ~Linear();

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

  /// x's shape with the last dimension replaced by out_features(); throws if x does not fit.
  Shape output_shape(const Shape& x) const;
  /// y = x W^T + b, or y += x W^T + b when accumulate.
  void forward(const Tensor& x, Tensor& y, bool accumulate = false) const;
  /// A new y.
  Tensor forward(const Tensor& x) const;

 private:
  struct Plan {
    dnnl::matmul primitive;
    dnnl::memory::desc src_desc, dst_desc;
    std::size_t weights_index;  // into weights_
  };
  const Plan& plan_for(int64_t rows, bool accumulate) const;
  std::size_t weights_in(const dnnl::memory::desc& desc) const;

  int64_t in_features_ = 0, out_features_ = 0;
  dnnl::memory::data_type compute_type_;  // of x and W (y and the bias are f32)
  bool has_bias_ = false;
  dnnl::memory bias_;  // [1, out]
  // W^T as [in, out] in every format a plan has asked for (usually exactly one).
  mutable std::vector<dnnl::memory> weights_;
  mutable std::map<std::pair<int64_t, bool>, Plan> plans_;
  mutable std::unique_ptr<std::mutex> mutex_;
};

}  // namespace diffnorm::ops
