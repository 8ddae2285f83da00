#include "diffnorm/tensor.h"

#include <cstring>
#include <numeric>

#include "core/check.h"
#include "diffnorm/arena.h"
#include "diffnorm/buffer_pool.h"

namespace diffnorm {

std::string shape_str(const Shape& shape) {
  return fmt::format("[{}]", fmt::join(shape, ","));
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

static void check_shape(const Shape& shape) {
  for (int64_t s : shape) DN_CHECK(s >= 0, "negative dimension in shape {}", shape_str(shape));
}

Tensor Tensor::empty(Shape shape, DType dtype) {
  check_shape(shape);
  Tensor t;
  const std::size_t bytes = std::size_t(shape_numel(shape)) * dtype_size(dtype);
  const PooledBuffer buffer = pool_allocate(bytes);
  void* p = buffer.memory;
  t.owner_ = std::shared_ptr<void>(p, [buffer](void*) { pool_free(buffer); });
  t.data_ = p;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::full(Shape shape, double value, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  const int64_t n = t.numel();
  switch (dtype) {
    case DType::F32: std::fill_n(static_cast<float*>(t.data_), n, float(value)); break;
    case DType::F16: std::fill_n(static_cast<float16*>(t.data_), n, f32_to_f16(float(value))); break;
    case DType::BF16: std::fill_n(static_cast<bfloat16*>(t.data_), n, f32_to_bf16(float(value))); break;
    case DType::I64: std::fill_n(static_cast<int64_t*>(t.data_), n, int64_t(value)); break;
    case DType::I32: std::fill_n(static_cast<int32_t*>(t.data_), n, int32_t(value)); break;
    case DType::U8: std::fill_n(static_cast<uint8_t*>(t.data_), n, uint8_t(value)); break;
  }
  return t;
}

Tensor Tensor::from_vector(Shape shape, const std::vector<float>& values) {
  DN_CHECK(shape_numel(shape) == int64_t(values.size()), "from_vector: shape {} holds {} values, got {}",
           shape_str(shape), shape_numel(shape), values.size());
  Tensor t = empty(std::move(shape), DType::F32);
  std::memcpy(t.data_, values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::view(void* data, Shape shape, DType dtype, std::shared_ptr<const void> keep_alive) {
  Shape strides = contiguous_strides(shape);
  return view_strided(data, std::move(shape), std::move(strides), dtype, std::move(keep_alive));
}

Tensor Tensor::view_strided(void* data, Shape shape, Shape strides, DType dtype,
                            std::shared_ptr<const void> keep_alive) {
  check_shape(shape);
  DN_CHECK(shape.size() == strides.size(), "view: shape {} and strides {} differ in rank", shape_str(shape),
           shape_str(strides));
  Tensor t;
  t.owner_ = std::move(keep_alive);
  t.data_ = data;
  t.shape_ = std::move(shape);
  t.strides_ = std::move(strides);
  t.dtype_ = dtype;
  return t;
}

int64_t Tensor::size(int64_t d) const {
  const int64_t r = dim();
  DN_CHECK(d >= -r && d < r, "dimension {} out of range for a tensor of shape {}", d, shape_str(shape_));
  return shape_[d < 0 ? d + r : d];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void Tensor::check_type(DType expected) const {
  DN_CHECK(dtype_ == expected, "tensor {} accessed as {}", describe(), dtype_name(expected));
}

Tensor Tensor::reshape(Shape shape) const {
  DN_CHECK(is_contiguous(), "reshape of a non-contiguous tensor {} (call contiguous() first)", describe());
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      DN_CHECK(infer < 0, "reshape to {}: more than one -1", shape_str(shape));
      infer = int(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    DN_CHECK(known > 0 && numel() % known == 0, "reshape {} to {}: sizes do not divide", describe(), shape_str(shape));
    shape[infer] = numel() / known;
  }
  DN_CHECK(shape_numel(shape) == numel(), "reshape {} to {}: element counts differ", describe(), shape_str(shape));
  Tensor t = *this;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::permute(const std::vector<int>& order) const {
  DN_CHECK(int64_t(order.size()) == dim(), "permute of {} needs {} axes, got {}", describe(), dim(), order.size());
  std::vector<bool> seen(order.size(), false);
  Tensor t = *this;
  for (size_t i = 0; i < order.size(); ++i) {
    const int o = order[i];
    DN_CHECK(o >= 0 && o < int(order.size()) && !seen[o], "permute: invalid axis order for {}", describe());
    seen[o] = true;
    t.shape_[i] = shape_[o];
    t.strides_[i] = strides_[o];
  }
  return t;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  const int64_t n = size(d);
  if (d < 0) d += dim();
  DN_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow({}, {}, {}) out of range for {}", d, start,
           length, describe());
  Tensor t = *this;
  t.data_ = static_cast<std::byte*>(data_) + start * strides_[d] * int64_t(dtype_size(dtype_));
  t.shape_[d] = length;
  return t;
}

Tensor Tensor::select(int64_t d, int64_t i) const {
  if (d < 0) d += dim();
  Tensor t = narrow(d, i, 1);
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return clone();
  Tensor t = empty(shape_, dtype);
  t.copy_from(*this);
  return t;
}

namespace {

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

// Calls fn(dst_offset_elements, src_offset_elements, count) for each contiguous inner run,
// walking both tensors' strides over the same logical shape.
template <class Fn>
void for_each_run(const Shape& shape, const Shape& dst_strides, const Shape& src_strides, Fn fn) {
  const int64_t r = int64_t(shape.size());
  if (shape_numel(shape) == 0) return;
  if (r == 0) return fn(0, 0, 1);
  const bool inner_contig = dst_strides[r - 1] == 1 && src_strides[r - 1] == 1;
  const int64_t run = inner_contig ? shape[r - 1] : 1;
  const int64_t outer_rank = inner_contig ? r - 1 : r;
  std::vector<int64_t> idx(size_t(outer_rank), 0);
  const int64_t outer = shape_numel(Shape(shape.begin(), shape.begin() + outer_rank));
  for (int64_t k = 0; k < outer; ++k) {
    int64_t d_off = 0, s_off = 0;
    for (int64_t a = 0; a < outer_rank; ++a) {
      d_off += idx[a] * dst_strides[a];
      s_off += idx[a] * src_strides[a];
    }
    fn(d_off, s_off, run);
    for (int64_t a = outer_rank - 1; a >= 0; --a) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
}

}  // namespace

void Tensor::copy_from(const Tensor& src) {
  DN_CHECK(src.shape_ == shape_, "copy_from: shape {} into {}", src.describe(), describe());
  const bool floats = is_float(src.dtype_) && is_float(dtype_);
  DN_CHECK(floats || src.dtype_ == dtype_, "copy_from: cannot convert {} to {}", dtype_name(src.dtype_),
           dtype_name(dtype_));
  const std::size_t ds = dtype_size(dtype_), ss = dtype_size(src.dtype_);
  auto* dst_base = static_cast<std::byte*>(data_);
  const auto* src_base = static_cast<const std::byte*>(src.data_);
  for_each_run(shape_, strides_, src.strides_, [&](int64_t d_off, int64_t s_off, int64_t count) {
    if (src.dtype_ == dtype_) {
      std::memcpy(dst_base + d_off * ds, src_base + s_off * ss, std::size_t(count) * ds);
    } else {
      convert(src_base + s_off * ss, src.dtype_, dst_base + d_off * ds, dtype_, std::size_t(count));
    }
  });
}

Tensor Tensor::nchw_to_nhwc() const {
  DN_CHECK(dim() == 4, "nchw_to_nhwc needs a 4-d tensor, got {}", describe());
  return permute({0, 2, 3, 1}).clone();
}

Tensor Tensor::nhwc_to_nchw() const {
  DN_CHECK(dim() == 4, "nhwc_to_nchw needs a 4-d tensor, got {}", describe());
  return permute({0, 3, 1, 2}).clone();
}

double Tensor::item(int64_t flat_index) const {
  DN_CHECK(flat_index >= 0 && flat_index < numel(), "item({}) out of range for {}", flat_index, describe());
  int64_t off = 0, rem = flat_index;
  for (int64_t a = dim() - 1; a >= 0; --a) {
    off += (rem % shape_[a]) * strides_[a];
    rem /= shape_[a];
  }
  const void* p = static_cast<const std::byte*>(data_) + off * int64_t(dtype_size(dtype_));
  switch (dtype_) {
    case DType::F32: return *static_cast<const float*>(p);
    case DType::F16: return f16_to_f32(*static_cast<const float16*>(p));
    case DType::BF16: return bf16_to_f32(*static_cast<const bfloat16*>(p));
    case DType::I64: return double(*static_cast<const int64_t*>(p));
    case DType::I32: return *static_cast<const int32_t*>(p);
    case DType::U8: return *static_cast<const uint8_t*>(p);
  }
  return 0;
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  if (is_float(dtype_)) {
    Tensor dst = view(out.data(), shape_, DType::F32);
    dst.copy_from(*this);
  } else {
    for (int64_t i = 0; i < numel(); ++i) out[size_t(i)] = float(item(i));
  }
  return out;
}

std::string Tensor::describe() const {
  std::string name(dtype_name(dtype_));
  for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
  return name + shape_str(shape_);
}

}  // namespace diffnorm
