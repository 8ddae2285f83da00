#include "ops/dnnl_context.h"

#include <unordered_map>

#include "core/check.h"
#include "ops/compute_precision.h"

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

dnnl::primitive_attr accumulate_attr(bool accumulate) {
  dnnl::primitive_attr attr;
  if (accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

dnnl::memory::data_type dnnl_compute_type() {
  return compute_precision() == ComputePrecision::BF16 ? dnnl::memory::data_type::bf16
                                                        : dnnl::memory::data_type::f32;
}

void throw_unsupported(const char* op, const char* why) {
  fail("{}: oneDNN has no {} implementation on this CPU ({}){}", op, to_string(compute_precision()), why,
       compute_precision() == ComputePrecision::BF16 ? "; use --precision fp32" : "");
}

void execute_weighted(const dnnl::primitive& primitive, const dnnl::memory::desc& src_desc, const void* src,
                      const dnnl::memory& weights, const dnnl::memory* bias, const dnnl::memory::desc& dst_desc,
                      void* dst) {
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, dnnl::memory(src_desc, dnnl_engine(), const_cast<void*>(src))},
      {DNNL_ARG_WEIGHTS, weights},
      {DNNL_ARG_DST, dnnl::memory(dst_desc, dnnl_engine(), dst)}};
  if (bias) args.emplace(DNNL_ARG_BIAS, *bias);
  primitive.execute(dnnl_stream(), args);
  dnnl_stream().wait();
}

}  // namespace diffnorm::ops
