// Boundary checks shared by the ops: they throw diffnorm::Error naming the op and argument.
#pragma once

#include "core/check.h"
#include "diffnorm/tensor.h"

namespace diffnorm::ops {

/// `t` must be f32 and contiguous (every op reads and writes flat f32 buffers).
inline void check_f32_contiguous(const Tensor& t, const char* what, const char* where) {
  DN_CHECK(t.dtype() == DType::F32, "{}: {} must be f32, got {}", where, what, t.describe());
  DN_CHECK(t.is_contiguous(), "{}: {} must be contiguous, got strides {} for {}", where, what,
           shape_str(t.strides()), t.describe());
}

}  // namespace diffnorm::ops
