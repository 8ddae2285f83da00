// oneDNN 2.6's layer and batch normalization on the cases of `diffnorm bench norm`, timed
// the same way (warm-up, median of samples; "cache" reuses one set of operands, "dram"
// cycles through a ring of copies larger than any cache). oneDNN 2.6 has no group, RMS
// or pixel normalization; those cases are answered with "supported": false.
//
// Input, one case per line on stdin:  LAYER SHAPE LAYOUT DTYPE DIRECTION MEMORY
//   e.g. "batchnorm-train 32x64x56x56 nhwc bf16 backward dram"
// Output, one JSON object per case on stdout. Usage: onednn_norm_peer [--threads N]
//   [--quick] [--dram-mib M]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

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

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median ms per call: warm-up samples calibrate the calls per sample (>= min_ms each).
template <class F>
double median_ms(F&& call, const Settings& s) {
  const int warmup = s.quick ? 1 : 2, samples = s.quick ? 5 : 15;
  const double min_ms = s.quick ? 1.0 : 3.0;
  std::size_t calls = 0, per_sample = 1;
  auto sample = [&] {
    const double start = now_ms();
    for (std::size_t i = 0; i < per_sample; ++i) call(calls++);
    return (now_ms() - start) / double(per_sample);
  };
  for (int w = 0; w < warmup; ++w)
    per_sample = std::max<std::size_t>(1, std::size_t(std::ceil(min_ms / std::max(sample(), 1e-6))));
  std::vector<double> t;
  for (int i = 0; i < samples; ++i) t.push_back(sample());
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

// Operands of one call; `copies` independent sets for the DRAM ring.
struct Operands {
  std::vector<std::unordered_map<int, memory>> sets;
};

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

// Times one case; returns ms, or a negative number when oneDNN has no such primitive.
double run_case(dnnl::engine& eng, dnnl::stream& strm, const Case& c, const Settings& s) {
  const dt data_type = c.dtype == "bf16" ? dt::bf16 : dt::f32;
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
    std::vector<std::unordered_map<int, memory>> sets(copies);
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
    if (!backward) return median_ms([&](std::size_t i) { fwd.execute(strm, sets[i % copies]); strm.wait(); }, s);
    dnnl::layer_normalization_backward bwd(bwd_pd);
    return median_ms([&](std::size_t i) { bwd.execute(strm, sets[i % copies]); strm.wait(); }, s);
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
    std::vector<std::unordered_map<int, memory>> sets(copies);
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
    if (!backward) return median_ms([&](std::size_t i) { fwd.execute(strm, sets[i % copies]); strm.wait(); }, s);
    dnnl::batch_normalization_backward bwd(bwd_pd);
    return median_ms([&](std::size_t i) { bwd.execute(strm, sets[i % copies]); strm.wait(); }, s);
  }
  return -1;
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
    double ms = -1;
    try {
      ms = run_case(eng, strm, c, settings);
    } catch (const dnnl::error&) {
      ms = -1;  // no implementation for this data type or layout
    }
    std::printf(
        "{\"layer\": \"%s\", \"shape\": \"%s\", \"layout\": \"%s\", \"dtype\": \"%s\", \"direction\": \"%s\", "
        "\"memory\": \"%s\", \"threads\": %d, \"supported\": %s, \"ms\": %.5f}\n",
        c.layer.c_str(), c.shape_text.c_str(), c.layout.c_str(), c.dtype.c_str(), c.direction.c_str(),
        c.memory_kind.c_str(), omp_get_max_threads(), ms > 0 ? "true" : "false", ms > 0 ? ms : 0.0);
    std::fflush(stdout);
  }
  return 0;
}
