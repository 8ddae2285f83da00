// The process-wide oneDNN CPU engine and stream that every oneDNN-backed op runs on.
// Debian's oneDNN uses the OpenMP runtime (DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP), so its
// primitives follow diffnorm::set_num_threads like the rest of the library.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace diffnorm::ops {

dnnl::engine& dnnl_engine();
/// An in-order stream on dnnl_engine(); primitives execute synchronously on CPU.
dnnl::stream& dnnl_stream();

}  // namespace diffnorm::ops
