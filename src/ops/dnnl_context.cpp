#include "ops/dnnl_context.h"

static_assert(DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP,
              "diffnorm shares one OpenMP thread setting with oneDNN; this oneDNN is not built on OpenMP");

namespace diffnorm::ops {

dnnl::engine& dnnl_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& dnnl_stream() {
  // One stream per thread: a dnnl::stream is not meant to be shared by concurrent callers.
  thread_local dnnl::stream stream(dnnl_engine());
  return stream;
}

}  // namespace diffnorm::ops
