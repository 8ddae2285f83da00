// The process-wide oneDNN CPU engine and stream that every oneDNN-backed op runs on.
// Debian's oneDNN uses the OpenMP runtime (DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP), so its
// primitives follow diffnorm::set_num_threads like the rest of the library.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace diffnorm::ops {

dnnl::engine& dnnl_engine();
/// An in-order stream on dnnl_engine(); primitives execute synchronously on CPU.
dnnl::stream& dnnl_stream();

/// Attributes of a weighted primitive; `accumulate` adds a sum post-op (dst += result).
dnnl::primitive_attr accumulate_attr(bool accumulate);

/// The oneDNN data type of compute_precision() (ops/compute_precision.h).
dnnl::memory::data_type dnnl_compute_type();

[[noreturn]] void throw_unsupported(const char* op, const char* why);

/// The primitive descriptor of a weighted op, or an Error saying which op and precision
/// this CPU's oneDNN cannot do (bf16 needs AVX-512).
template <class PrimitiveDesc, class OpDesc>
PrimitiveDesc checked_primitive_desc(const OpDesc& desc, bool accumulate, const char* op) {
  try {
    return PrimitiveDesc(desc, accumulate_attr(accumulate), dnnl_engine());
  } catch (const dnnl::error& e) {
    throw_unsupported(op, e.what());
  }
}

/// Runs a weighted primitive (convolution, matmul) on caller buffers described by its
/// plan's src/dst descriptors, with prepared weights and an optional bias (null: none),
/// and waits for it.
void execute_weighted(const dnnl::primitive& primitive, const dnnl::memory::desc& src_desc, const void* src,
                      const dnnl::memory& weights, const dnnl::memory* bias, const dnnl::memory::desc& dst_desc,
                      void* dst);

}  // namespace diffnorm::ops
