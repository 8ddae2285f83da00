// oneDNN 2.6's layer and batch normalization on the cases of `diffnorm bench norm`, timed
// the same way (warm-up, median of samples; "cache" reuses one set of operands, "dram"
// cycles through a ring of copies larger than any cache), and diffnorm's same layer on the
// same buffers, sampled in turn with oneDNN's (one sample of each, alternately), so that
// the ratio of the two does not carry the drift of the machine's memory bandwidth between
// minutes. oneDNN 2.6 has no group, RMS or pixel normalization; those cases are answered
// with "supported": false.
//
// Input, one case per line on stdin:  LAYER SHAPE LAYOUT DTYPE DIRECTION MEMORY
//   e.g. "batchnorm-train 32x64x56x56 nhwc bf16 backward dram"
// Output, one JSON object per case on stdout ("ms": oneDNN, "diffnorm_ms": diffnorm in the
// same samples). Usage: onednn_norm_peer [--threads N] [--quick] [--dram-mib M]
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "cli/bench_timing.h"
#include "diffnorm/norm.h"
#include "dnnl.hpp"

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

struct Case {
  std::string layer, shape_text, layout, dtype, direction, memory_kind;
  memory::dims shape;
};

struct Settings {
  bool quick = false;
  double dram_mib = 1024;
};

// One sample of oneDNN and one of diffnorm in turn (cli/bench_timing.h, as diffnorm's own
// bench): a call gets its index in one count for both, and takes operand set index % copies,
// so that neither finds in cache the sets the other has just used.
struct Timing {
  double onednn_ms, diffnorm_ms;
};
template <class A, class B>
Timing median_ms_pair(A&& onednn_call, B&& diffnorm_call, const Settings& s) {
  using diffnorm::cli::TimingPlan;
  const TimingPlan plan = s.quick ? TimingPlan::quick() : TimingPlan{};
  const std::vector<double> ms = diffnorm::cli::median_ms_interleaved({onednn_call, diffnorm_call}, plan);
  return {ms[0], ms[1]};
}

float* f32(memory& m) { return static_cast<float*>(m.get_data_handle()); }

// diffnorm's statistics of one operand set: a backward reads the mean and rstd of its own
// forward (oneDNN's set holds a variance, not an rstd), and a BatchNorm forward updates
// running statistics of its own.
struct DiffnormState {
  std::vector<float> mean, rstd, running_mean, running_var;
  int64_t batches_tracked = 0;
};

using OperandSet = std::unordered_map<int, memory>;

// diffnorm's forward and backward buffers on oneDNN's operand set `a` (the same memory),
// with the statistics of `st`; IO is ForwardIO or BackwardIO, which share these fields.
template <class IO>
IO shared_io(OperandSet& a, diffnorm::DType dtype, DiffnormState& st) {
  IO io;
  io.dtype = dtype;
  io.x = a[DNNL_ARG_SRC].get_data_handle();
  io.gamma = f32(a[DNNL_ARG_SCALE]);
  io.beta = f32(a[DNNL_ARG_SHIFT]);
  io.mean = st.mean.data();
  io.rstd = st.rstd.data();
  return io;
}
diffnorm::ForwardIO forward_io(OperandSet& a, diffnorm::DType dtype, DiffnormState& st) {
  auto io = shared_io<diffnorm::ForwardIO>(a, dtype, st);
  io.y = a[DNNL_ARG_DST].get_data_handle();
  return io;
}
diffnorm::BackwardIO backward_io(OperandSet& a, diffnorm::DType dtype, DiffnormState& st) {
  auto io = shared_io<diffnorm::BackwardIO>(a, dtype, st);
  io.dy = a[DNNL_ARG_DIFF_DST].get_data_handle();
  io.dx = a[DNNL_ARG_DIFF_SRC].get_data_handle();
  io.dgamma = f32(a[DNNL_ARG_DIFF_SCALE]);
  io.dbeta = f32(a[DNNL_ARG_DIFF_SHIFT]);
  return io;
}

void fill(memory& m, float lo, float hi, unsigned seed) {
  const auto& d = m.get_desc();
  const std::size_t n = d.get_size() / (d.data_type() == dt::f32 ? 4 : 2);
  unsigned state = seed * 2654435761u + 1u;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return lo + (hi - lo) * float(state >> 8) * 0x1p-24f;
  };
  if (d.data_type() == dt::f32) {
    auto* p = static_cast<float*>(m.get_data_handle());
    for (std::size_t i = 0; i < n; ++i) p[i] = next();
  } else {  // bf16: the upper half of the f32 (truncation is fine for test data)
    auto* p = static_cast<uint16_t*>(m.get_data_handle());
    for (std::size_t i = 0; i < n; ++i) {
      const float f = next();
      uint32_t u;
      std::memcpy(&u, &f, 4);
      p[i] = uint16_t(u >> 16);
    }
  }
}

std::size_t ring_copies(const Case& c, std::size_t slab_bytes, const Settings& s) {
  if (c.memory_kind == "cache") return 1;
  return std::max<std::size_t>(2, std::size_t(std::ceil(s.dram_mib * 1048576.0 / double(slab_bytes))));
}

// Times one case, oneDNN and diffnorm in turn; a negative oneDNN time when oneDNN has no
// such primitive.
Timing run_case(dnnl::engine& eng, dnnl::stream& strm, const Case& c, const Settings& s) {
  const dt data_type = c.dtype == "bf16" ? dt::bf16 : dt::f32;
  const diffnorm::DType dn_type = c.dtype == "bf16" ? diffnorm::DType::BF16 : diffnorm::DType::F32;
  diffnorm::Arena arena;
  const bool backward = c.direction == "backward";
  const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;

  if (c.layer == "layernorm" && c.layout == "btd") {
    const memory::dims stat_dims = {c.shape[0], c.shape[1]};
    const memory::desc data(c.shape, data_type, tag::abc);
    const memory::desc stat(stat_dims, dt::f32, tag::ab);
    const memory::desc channel({c.shape[2]}, dt::f32, tag::a);
    const auto prop = backward ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    dnnl::layer_normalization_forward::primitive_desc fwd_pd(
        dnnl::layer_normalization_forward::desc(prop, data, stat, 1e-5f, flags), eng);
    dnnl::layer_normalization_forward fwd(fwd_pd);
    dnnl::layer_normalization_backward::primitive_desc bwd_pd;
    if (backward)
      bwd_pd = dnnl::layer_normalization_backward::primitive_desc(
          dnnl::layer_normalization_backward::desc(dnnl::prop_kind::backward, data, data, stat, 1e-5f, flags), eng,
          fwd_pd);
    const std::size_t slab = data.get_size() * (backward ? 3 : 2);
    const std::size_t copies = ring_copies(c, slab, s);
    std::vector<OperandSet> sets(copies);
    for (std::size_t k = 0; k < copies; ++k) {
      auto& a = sets[k];
      a[DNNL_ARG_SRC] = memory(data, eng);
      a[DNNL_ARG_DST] = memory(data, eng);
      a[DNNL_ARG_MEAN] = memory(stat, eng);
      a[DNNL_ARG_VARIANCE] = memory(stat, eng);
      a[DNNL_ARG_SCALE] = memory(channel, eng);
      a[DNNL_ARG_SHIFT] = memory(channel, eng);
      fill(a[DNNL_ARG_SRC], -2, 2, 1);
      fill(a[DNNL_ARG_DST], -2, 2, 7);  // touched before timing, as diffnorm's ring is
      fill(a[DNNL_ARG_SCALE], 1, 1.5, 3);
      fill(a[DNNL_ARG_SHIFT], -0.5, 0.5, 4);
      if (backward) {
        fwd.execute(strm, a);  // the statistics the backward reads
        a[DNNL_ARG_DIFF_DST] = memory(data, eng);
        a[DNNL_ARG_DIFF_SRC] = a[DNNL_ARG_DST];
        a[DNNL_ARG_DIFF_SCALE] = memory(channel, eng);
        a[DNNL_ARG_DIFF_SHIFT] = memory(channel, eng);
        fill(a[DNNL_ARG_DIFF_DST], -2, 2, 2);
      }
    }
    strm.wait();
    const int64_t batch = c.shape[0], tokens = c.shape[1], dim = c.shape[2];
    std::vector<DiffnormState> state(copies);
    auto diffnorm_forward = [&](std::size_t k) {
      arena.reset();  // scratch is reused call after call, as a caller's would be
      diffnorm::layer_norm_forward(batch, tokens, dim, 1e-5f, forward_io(sets[k], dn_type, state[k]), arena);
    };
    for (std::size_t k = 0; k < copies; ++k) {
      state[k].mean.resize(std::size_t(batch * tokens));
      state[k].rstd.resize(std::size_t(batch * tokens));
      if (backward) diffnorm_forward(k);  // the statistics diffnorm's backward reads
    }
    if (!backward)
      return median_ms_pair([&](std::size_t i) { fwd.execute(strm, sets[i % copies]); strm.wait(); },
                            [&](std::size_t i) { diffnorm_forward(i % copies); }, s);
    dnnl::layer_normalization_backward bwd(bwd_pd);
    auto diffnorm_backward = [&](std::size_t k) {
      arena.reset();
      diffnorm::layer_norm_backward(batch, tokens, dim, 1e-5f, backward_io(sets[k], dn_type, state[k]), arena);
    };
    return median_ms_pair([&](std::size_t i) { bwd.execute(strm, sets[i % copies]); strm.wait(); },
                          [&](std::size_t i) { diffnorm_backward(i % copies); }, s);
  }

  if (c.layer.rfind("batchnorm", 0) == 0 && (c.layout == "nchw" || c.layout == "nhwc")) {
    const bool training = c.layer == "batchnorm-train";
    const memory::desc data(c.shape, data_type, c.layout == "nhwc" ? tag::nhwc : tag::nchw);
    const memory::desc channel({c.shape[1]}, dt::f32, tag::a);
    const auto fwd_flags = training ? flags : flags | dnnl::normalization_flags::use_global_stats;
    const auto prop = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    dnnl::batch_normalization_forward::primitive_desc fwd_pd(
        dnnl::batch_normalization_forward::desc(prop, data, 1e-5f, fwd_flags), eng);
    dnnl::batch_normalization_forward fwd(fwd_pd);
    dnnl::batch_normalization_backward::primitive_desc bwd_pd;
    if (backward)
      bwd_pd = dnnl::batch_normalization_backward::primitive_desc(
          dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, data, data, 1e-5f, flags), eng,
          fwd_pd);
    const std::size_t slab = data.get_size() * (backward ? 3 : 2);
    const std::size_t copies = ring_copies(c, slab, s);
    std::vector<OperandSet> sets(copies);
    for (std::size_t k = 0; k < copies; ++k) {
      auto& a = sets[k];
      a[DNNL_ARG_SRC] = memory(data, eng);
      a[DNNL_ARG_DST] = memory(data, eng);
      a[DNNL_ARG_MEAN] = memory(channel, eng);
      a[DNNL_ARG_VARIANCE] = memory(channel, eng);
      a[DNNL_ARG_SCALE] = memory(channel, eng);
      a[DNNL_ARG_SHIFT] = memory(channel, eng);
      fill(a[DNNL_ARG_SRC], -2, 2, 1);
      fill(a[DNNL_ARG_DST], -2, 2, 7);  // touched before timing, as diffnorm's ring is
      fill(a[DNNL_ARG_SCALE], 1, 1.5, 3);
      fill(a[DNNL_ARG_SHIFT], -0.5, 0.5, 4);
      fill(a[DNNL_ARG_MEAN], -0.1f, 0.1f, 5);
      fill(a[DNNL_ARG_VARIANCE], 0.5f, 1.5f, 6);
      if (backward) {
        fwd.execute(strm, a);
        a[DNNL_ARG_DIFF_DST] = memory(data, eng);
        a[DNNL_ARG_DIFF_SRC] = a[DNNL_ARG_DST];
        a[DNNL_ARG_DIFF_SCALE] = memory(channel, eng);
        a[DNNL_ARG_DIFF_SHIFT] = memory(channel, eng);
        fill(a[DNNL_ARG_DIFF_DST], -2, 2, 2);
      }
    }
    strm.wait();
    const diffnorm::NormShape shape{c.shape[0], c.shape[1], c.shape[2] * c.shape[3],
                                    c.layout == "nhwc" ? diffnorm::Layout::NHWC : diffnorm::Layout::NCHW};
    diffnorm::BatchNormOptions options;
    options.training = training;
    std::vector<DiffnormState> state(copies);
    auto diffnorm_forward = [&](std::size_t k) {
      auto& a = sets[k];
      DiffnormState& st = state[k];
      arena.reset();
      // Eval reads oneDNN's global statistics as its running statistics; training updates its own.
      const diffnorm::RunningStats running =
          training ? diffnorm::RunningStats{st.running_mean.data(), st.running_var.data(), &st.batches_tracked}
                   : diffnorm::RunningStats{f32(a[DNNL_ARG_MEAN]), f32(a[DNNL_ARG_VARIANCE]), &st.batches_tracked};
      diffnorm::batch_norm_forward(shape, options, running, forward_io(a, dn_type, st), arena);
    };
    for (std::size_t k = 0; k < copies; ++k) {
      state[k].mean.resize(std::size_t(shape.c));
      state[k].rstd.resize(std::size_t(shape.c));
      state[k].running_mean.assign(std::size_t(shape.c), 0.0f);
      state[k].running_var.assign(std::size_t(shape.c), 1.0f);
      if (backward) diffnorm_forward(k);  // the statistics diffnorm's backward reads
    }
    if (!backward)
      return median_ms_pair([&](std::size_t i) { fwd.execute(strm, sets[i % copies]); strm.wait(); },
                            [&](std::size_t i) { diffnorm_forward(i % copies); }, s);
    dnnl::batch_normalization_backward bwd(bwd_pd);
    auto diffnorm_backward = [&](std::size_t k) {
      arena.reset();
      diffnorm::batch_norm_backward(shape, options, /*running_tracked=*/true, backward_io(sets[k], dn_type, state[k]),
                                    arena);
    };
    return median_ms_pair([&](std::size_t i) { bwd.execute(strm, sets[i % copies]); strm.wait(); },
                          [&](std::size_t i) { diffnorm_backward(i % copies); }, s);
  }
  return {-1, -1};
}

memory::dims parse_shape(const std::string& text) {
  memory::dims dims;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, 'x')) dims.push_back(std::stoll(part));
  return dims;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") settings.quick = true;
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--dram-mib" && i + 1 < argc) settings.dram_mib = std::atof(argv[++i]);
    else {
      std::fprintf(stderr, "onednn_norm_peer: unknown argument '%s' (expected --threads N, --quick, --dram-mib M)\n",
                   a.c_str());
      return 1;
    }
  }
  if (threads > 0) omp_set_num_threads(threads);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  std::string line;
  while (std::getline(std::cin, line)) {
    Case c;
    std::stringstream in(line);
    if (!(in >> c.layer >> c.shape_text >> c.layout >> c.dtype >> c.direction >> c.memory_kind)) continue;
    c.shape = parse_shape(c.shape_text);
    Timing t{-1, -1};
    try {
      t = run_case(eng, strm, c, settings);
    } catch (const dnnl::error&) {
      t = {-1, -1};  // no implementation for this data type or layout
    }
    const bool supported = t.onednn_ms > 0;
    std::printf(
        "{\"layer\": \"%s\", \"shape\": \"%s\", \"layout\": \"%s\", \"dtype\": \"%s\", \"direction\": \"%s\", "
        "\"memory\": \"%s\", \"threads\": %d, \"supported\": %s, \"ms\": %.5f, \"diffnorm_ms\": %.5f}\n",
        c.layer.c_str(), c.shape_text.c_str(), c.layout.c_str(), c.dtype.c_str(), c.direction.c_str(),
        c.memory_kind.c_str(), omp_get_max_threads(), supported ? "true" : "false", supported ? t.onednn_ms : 0.0,
        supported ? t.diffnorm_ms : 0.0);
    std::fflush(stdout);
  }
  return 0;
}
