// Element-wise float32 maps over latent tensors for the samplers. Each lambda mirrors one
// torch expression of diffusers' step(); every operation rounds to float32 separately (torch
// runs one kernel per operator, so nothing is fused), which is what makes the results exact.
#pragma once

#include "core/check.h"
#include "diffnorm/tensor.h"

namespace diffnorm::sampler_ops {

inline void check_same(const Tensor& a, const Tensor& b) {
  DN_CHECK(a.dtype() == DType::F32 && b.dtype() == DType::F32, "sampler: tensors must be f32, got {} and {}",
           a.describe(), b.describe());
  DN_CHECK(a.shape() == b.shape(), "sampler: shape mismatch {} vs {}", shape_str(a.shape()),
           shape_str(b.shape()));
}

template <class F>
Tensor map(const Tensor& a_in, F f) {
  const Tensor a = a_in.contiguous();
  DN_CHECK(a.dtype() == DType::F32, "sampler: tensor must be f32, got {}", a.describe());
  Tensor out = Tensor::empty(a.shape());
  const float* pa = a.data<float>();
  float* po = out.data<float>();
  for (int64_t i = 0, n = a.numel(); i < n; ++i) po[i] = f(pa[i]);
  return out;
}

template <class F>
Tensor map(const Tensor& a_in, const Tensor& b_in, F f) {
  check_same(a_in, b_in);
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor out = Tensor::empty(a.shape());
  const float *pa = a.data<float>(), *pb = b.data<float>();
  float* po = out.data<float>();
  for (int64_t i = 0, n = a.numel(); i < n; ++i) po[i] = f(pa[i], pb[i]);
  return out;
}

template <class F>
Tensor map(const Tensor& a_in, const Tensor& b_in, const Tensor& c_in, F f) {
  check_same(a_in, b_in);
  check_same(a_in, c_in);
  const Tensor a = a_in.contiguous(), b = b_in.contiguous(), c = c_in.contiguous();
  Tensor out = Tensor::empty(a.shape());
  const float *pa = a.data<float>(), *pb = b.data<float>(), *pc = c.data<float>();
  float* po = out.data<float>();
  for (int64_t i = 0, n = a.numel(); i < n; ++i) po[i] = f(pa[i], pb[i], pc[i]);
  return out;
}

template <class F>
Tensor map(const Tensor& a_in, const Tensor& b_in, const Tensor& c_in, const Tensor& d_in, F f) {
  check_same(a_in, b_in);
  check_same(a_in, c_in);
  check_same(a_in, d_in);
  const Tensor a = a_in.contiguous(), b = b_in.contiguous(), c = c_in.contiguous(), d = d_in.contiguous();
  Tensor out = Tensor::empty(a.shape());
  const float *pa = a.data<float>(), *pb = b.data<float>(), *pc = c.data<float>(), *pd = d.data<float>();
  float* po = out.data<float>();
  for (int64_t i = 0, n = a.numel(); i < n; ++i) po[i] = f(pa[i], pb[i], pc[i], pd[i]);
  return out;
}

}  // namespace diffnorm::sampler_ops
