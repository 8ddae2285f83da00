// Tensor: a shape, element strides, a dtype and a pointer into storage that it owns
// (64-byte aligned) or shares (a view into a memory-mapped file, a caller's buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "diffnorm/dtype.h"
#include "diffnorm/error.h"

namespace diffnorm {

using Shape = std::vector<int64_t>;

/// "[2,4,64,64]"
std::string shape_str(const Shape& shape);
/// Product of the dimensions (1 for a scalar shape []).
int64_t shape_numel(const Shape& shape);
/// Row-major strides, in elements.
Shape contiguous_strides(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;

  /// Uninitialised, owning, contiguous, 64-byte aligned.
  static Tensor empty(Shape shape, DType dtype = DType::F32);
  static Tensor zeros(Shape shape, DType dtype = DType::F32);
  /// Every element = value (converted to dtype).
  static Tensor full(Shape shape, double value, DType dtype = DType::F32);
  /// Contiguous f32 tensor holding a copy of `values` (numel must match).
  static Tensor from_vector(Shape shape, const std::vector<float>& values);
  /// Non-owning view of caller memory; `keep_alive` (optional) holds the memory's owner.
  static Tensor view(void* data, Shape shape, DType dtype,
                     std::shared_ptr<const void> keep_alive = nullptr);
  static Tensor view_strided(void* data, Shape shape, Shape strides, DType dtype,
                             std::shared_ptr<const void> keep_alive = nullptr);

  bool defined() const { return data_ != nullptr || numel() == 0; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  DType dtype() const { return dtype_; }
  int64_t dim() const { return int64_t(shape_.size()); }
  /// Size of dimension d; negative d counts from the end.
  int64_t size(int64_t d) const;
  int64_t numel() const { return shape_numel(shape_); }
  std::size_t nbytes() const { return std::size_t(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  /// Typed pointer; throws if T does not match dtype().
  template <class T>
  T* data() {
    check_type(dtype_of<T>());
    return static_cast<T*>(data_);
  }
  template <class T>
  const T* data() const {
    check_type(dtype_of<T>());
    return static_cast<const T*>(data_);
  }

  /// A view with a new shape (one dimension may be -1); requires contiguity.
  Tensor reshape(Shape shape) const;
  /// A view with dimensions reordered: result dim i = this dim order[i].
  Tensor permute(const std::vector<int>& order) const;
  /// A view of [start, start+length) along dimension d.
  Tensor narrow(int64_t d, int64_t start, int64_t length) const;
  /// A view at index i of dimension d, which is removed.
  Tensor select(int64_t d, int64_t i) const;
  /// This tensor if contiguous, otherwise a contiguous copy.
  Tensor contiguous() const;
  /// A contiguous owning copy.
  Tensor clone() const;
  /// A contiguous copy converted to dtype (f32/f16/bf16 among themselves; ints to ints).
  Tensor to(DType dtype) const;
  /// Copies src's values into this tensor (same shape; any strides; float types convert).
  void copy_from(const Tensor& src);
  /// [N,C,H,W] -> contiguous [N,H,W,C] and back.
  Tensor nchw_to_nhwc() const;
  Tensor nhwc_to_nchw() const;

  /// Element i (row-major over the logical shape) as double, for tests and tools.
  double item(int64_t flat_index) const;
  /// All elements (row-major) as float.
  std::vector<float> to_vector() const;
  /// "f32[2,4,64,64]"
  std::string describe() const;

 private:
  void check_type(DType expected) const;

  std::shared_ptr<const void> owner_;
  void* data_ = nullptr;
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::F32;
};

}  // namespace diffnorm
