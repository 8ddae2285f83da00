// `diffnorm bench norm`: every normalization layer on the shapes of Stable Diffusion (and
// the usual shapes of the other layers), forward and backward, fp32 and bf16, each beside
// a memory copy of the same bytes timed in the same run.
//
// Effective bandwidth = bytes every operand is read once + every output written once,
// divided by the time. The copy baseline moves the same total (half read, half written),
// so "fraction of copy" = copy time / layer time. The read baseline only reads the
// activation operands: what a kernel that must read its input twice is up against.
//
// Memory: "cache" repeats the call on one set of operands small enough to stay in the
// last-level cache; "dram" cycles through enough copies of the operands (a ring larger
// than any cache) that every call streams them from memory.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/bench_command.h"
#include "cli/bench_copy.h"
#include "cli/bench_floor.h"
#include "cli/bench_pool.h"
#include "cli/bench_timing.h"
#include "core/check.h"
#include "diffnorm/norm.h"
#include "diffnorm/threads.h"
#include "hwy/targets.h"

namespace diffnorm::cli {
namespace {

enum class Memory { Cache, Dram };

// One benchmark case. Shapes are logical [N, C, *S] ([B, T, D] for the row layers);
// `layout` is how they are stored.
struct NormCase {
  std::string layer;  // groupnorm, groupnorm+silu, layernorm, rmsnorm, batchnorm-train, ...
  Shape shape;
  std::string layout;  // nchw, nhwc, or btd (rows of the last dim)
  DType dtype;
  bool backward;
};

std::vector<NormCase> all_cases() {
  const std::vector<Shape> group_shapes = {
      {2, 320, 64, 64}, {2, 640, 32, 32}, {2, 1280, 16, 16},  // SD UNet
      {1, 512, 128, 128}, {1, 128, 512, 512},                // SD VAE decoder
  };
  struct Family {
    std::string layer;
    std::vector<Shape> shapes;
    std::vector<std::string> layouts;
    bool has_backward;
  };
  const std::vector<Family> families = {
      {"groupnorm", group_shapes, {"nchw", "nhwc"}, true},
      {"groupnorm+silu", group_shapes, {"nchw", "nhwc"}, true},
      {"layernorm", {{2, 4096, 320}, {2, 1024, 640}, {2, 77, 768}}, {"btd"}, true},
      {"rmsnorm", {{1, 2048, 4096}}, {"btd"}, true},
      {"batchnorm-train", {{32, 64, 56, 56}}, {"nchw", "nhwc"}, true},
      {"batchnorm-eval", {{32, 64, 56, 56}}, {"nchw", "nhwc"}, false},
      {"instancenorm", {{8, 64, 128, 128}}, {"nchw", "nhwc"}, true},
      {"pixelnorm", {{16, 512, 32, 32}}, {"nchw", "nhwc"}, true},
  };
  std::vector<NormCase> cases;
  for (const Family& f : families)
    for (const Shape& shape : f.shapes)
      for (const std::string& layout : f.layouts)
        for (DType dtype : {DType::F32, DType::BF16})
          for (bool backward : {false, true})
            if (!backward || f.has_backward) cases.push_back({f.layer, shape, layout, dtype, backward});
  return cases;
}

std::string shape_text(const Shape& shape) {
  std::string s;
  for (int64_t d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

bool is_rows(const NormCase& c) { return c.layout == "btd"; }

NormShape norm_shape(const NormCase& c) {
  if (is_rows(c)) return {c.shape[0] * c.shape[1], c.shape[2], 1, Layout::NHWC};
  int64_t s = 1;
  for (std::size_t i = 2; i < c.shape.size(); ++i) s *= c.shape[i];
  return {c.shape[0], c.shape[1], s, c.layout == "nhwc" ? Layout::NHWC : Layout::NCHW};
}

int64_t stat_count(const NormCase& c) {
  const NormShape s = norm_shape(c);
  if (c.layer.starts_with("groupnorm")) return s.n * 32;
  if (c.layer.starts_with("batchnorm")) return s.c;
  if (c.layer == "instancenorm") return s.n * s.c;
  return s.n * s.s;  // layernorm, rmsnorm (rows), pixelnorm (positions)
}

// The two-pass floor (bench_floor.h) of a forward whose statistics are contiguous spans
// with the plain apply: LayerNorm rows, channels-first GroupNorm groups and InstanceNorm
// channels. None for the backward, GroupNorm+SiLU, the column statistics (channels-last
// groups, BatchNorm), RMSNorm and PixelNorm.
std::optional<FloorShape> floor_shape(const NormCase& c) {
  if (c.backward) return std::nullopt;
  const NormShape s = norm_shape(c);
  FloorShape f;
  if (c.layer == "layernorm") {
    f.spans = s.n;
    f.run = s.c;
  } else if (c.layout == "nchw" && c.layer == "groupnorm") {
    f = {.spans = s.n * 32, .runs = s.c / 32, .run = s.s, .channels = s.c, .rows = false};
  } else if (c.layout == "nchw" && c.layer == "instancenorm") {
    f = {.spans = s.n * s.c, .runs = 1, .run = s.s, .channels = s.c, .rows = false};
  } else {
    return std::nullopt;
  }
  if (!floor_supports(f)) return std::nullopt;
  return f;
}

// Byte offsets of a case's operands in one slab. Activations come first and the small
// fp32 parameters last: the copy baseline copies the first half of the slab onto the
// second, and this order keeps every overwritten operand holding finite values.
struct Slab {
  std::size_t x = 0, dy = 0, out = 0;  // out: y (forward) or dx (backward)
  std::size_t gamma = 0, beta = 0, mean = 0, rstd = 0, running_mean = 0, running_var = 0;
  std::size_t dgamma = 0, dbeta = 0;
  std::size_t act = 0;          // bytes of one activation operand (x, dy, y, dx)
  std::size_t bytes = 0;        // slab size (64-byte multiple)
  std::size_t traffic = 0;      // bytes read once + written once by one call
};

Slab plan_slab(const NormCase& c) {
  const NormShape s = norm_shape(c);
  const std::size_t act = std::size_t(s.numel()) * dtype_size(c.dtype);
  const std::size_t channels = std::size_t(s.c) * sizeof(float);
  const std::size_t stats = std::size_t(stat_count(c)) * sizeof(float);
  Slab slab;
  auto take = [&](std::size_t bytes) {
    const std::size_t at = slab.bytes;
    slab.bytes += (bytes + 63) / 64 * 64;
    return at;
  };
  const bool affine = c.layer != "instancenorm" && c.layer != "pixelnorm";
  const bool has_beta = affine && c.layer != "rmsnorm";
  const bool running = c.layer.starts_with("batchnorm");
  slab.act = act;
  slab.x = take(act);
  if (c.backward) slab.dy = take(act);
  slab.out = take(act);
  slab.gamma = take(channels);
  slab.beta = take(channels);
  slab.mean = take(stats);
  slab.rstd = take(stats);
  slab.running_mean = take(channels);
  slab.running_var = take(channels);
  slab.dgamma = take(channels);
  slab.dbeta = take(channels);

  // Traffic: x (and dy) read, y (dx) written, parameters and statistics once each way.
  std::size_t params = (affine ? channels : 0) + (has_beta ? channels : 0);
  slab.traffic = act * (c.backward ? 3 : 2) + params;
  if (c.backward) {
    slab.traffic += 2 * stats + params;  // statistics read, parameter gradients written
  } else if (c.layer == "batchnorm-eval") {
    slab.traffic += 2 * channels;  // running statistics read
  } else {
    slab.traffic += 2 * stats + (running ? 4 * channels : 0);  // stats written, running updated
  }
  return slab;
}

// Uniform values in [-2, 2) stored as dtype (a fixed xorshift sequence).
void fill_random(void* p, DType dtype, int64_t count, uint32_t seed) {
  uint32_t state = seed * 2654435761u + 1u;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return float(state >> 8) * 0x1p-22f - 2.0f;
  };
  if (dtype == DType::F32) {
    for (int64_t i = 0; i < count; ++i) static_cast<float*>(p)[i] = next();
  } else {
    for (int64_t i = 0; i < count; ++i) static_cast<bfloat16*>(p)[i] = f32_to_bf16(next());
  }
}

void fill_constant(std::byte* p, float value, int64_t count) {
  std::fill_n(reinterpret_cast<float*>(p), count, value);
}

// The library call of a case on the operands of one slab.
void run_case(const NormCase& c, const Slab& o, std::byte* base, Arena& arena, bool forward_of_backward = false) {
  arena.reset();
  const NormShape shape = norm_shape(c);
  auto f32 = [&](std::size_t offset) { return reinterpret_cast<float*>(base + offset); };
  const bool affine = c.layer != "instancenorm" && c.layer != "pixelnorm";
  const Activation act = c.layer == "groupnorm+silu" ? Activation::SiLU : Activation::None;
  static int64_t batches_tracked = 0;
  RunningStats running{f32(o.running_mean), f32(o.running_var), &batches_tracked};
  BatchNormOptions bn;
  bn.training = c.layer != "batchnorm-eval";
  const InstanceNormOptions in;

  if (!c.backward || forward_of_backward) {
    ForwardIO io;
    io.dtype = c.dtype;
    io.x = base + o.x;
    io.y = base + o.out;
    if (affine) io.gamma = f32(o.gamma);
    if (affine && c.layer != "rmsnorm") io.beta = f32(o.beta);
    io.activation = act;
    io.mean = f32(o.mean);
    io.rstd = f32(o.rstd);
    if (c.layer.starts_with("groupnorm")) return group_norm_forward(shape, 32, 1e-5f, io, arena);
    if (c.layer == "layernorm") return layer_norm_forward(c.shape[0], c.shape[1], c.shape[2], 1e-5f, io, arena);
    if (c.layer == "rmsnorm") return rms_norm_forward(shape.n, shape.c, 1e-6f, io, arena);
    if (c.layer.starts_with("batchnorm")) return batch_norm_forward(shape, bn, running, io, arena);
    if (c.layer == "instancenorm") return instance_norm_forward(shape, in, {}, io, arena);
    if (c.layer == "pixelnorm") return pixel_norm_forward(shape, kPixelNormEps, io, arena);
  } else {
    BackwardIO io;
    io.dtype = c.dtype;
    io.x = base + o.x;
    io.dy = base + o.dy;
    io.dx = base + o.out;
    if (affine) {
      io.gamma = f32(o.gamma);
      io.dgamma = f32(o.dgamma);
      if (c.layer != "rmsnorm") {
        io.beta = f32(o.beta);
        io.dbeta = f32(o.dbeta);
      }
    }
    io.activation = act;
    io.mean = f32(o.mean);
    io.rstd = f32(o.rstd);
    if (c.layer.starts_with("groupnorm")) return group_norm_backward(shape, 32, 1e-5f, io, arena);
    if (c.layer == "layernorm") return layer_norm_backward(c.shape[0], c.shape[1], c.shape[2], 1e-5f, io, arena);
    if (c.layer == "rmsnorm") return rms_norm_backward(shape.n, shape.c, 1e-6f, io, arena);
    if (c.layer.starts_with("batchnorm")) return batch_norm_backward(shape, bn, true, io, arena);
    if (c.layer == "instancenorm") return instance_norm_backward(shape, in, false, io, arena);
    if (c.layer == "pixelnorm") return pixel_norm_backward(shape, kPixelNormEps, io, arena);
  }
  fail("bench norm: no library call for layer '{}'", c.layer);
}

// Writes the operands of copy 0: random activations, unit-ish parameters, running
// statistics, and for a backward the statistics of its forward.
void prepare_slab(const NormCase& c, const Slab& o, std::byte* base, Arena& arena) {
  const NormShape shape = norm_shape(c);
  fill_random(base + o.x, c.dtype, shape.numel(), 1);
  if (c.backward) fill_random(base + o.dy, c.dtype, shape.numel(), 2);
  fill_constant(base + o.gamma, 1.25f, shape.c);
  fill_constant(base + o.beta, 0.5f, shape.c);
  fill_constant(base + o.running_mean, 0.0f, shape.c);
  fill_constant(base + o.running_var, 1.0f, shape.c);
  run_case(c, o, base, arena, /*forward_of_backward=*/true);
}

// The floor on one slab, with the layer's affine terms (InstanceNorm: none).
void run_floor(const NormCase& c, const Slab& o, const FloorShape& floor, std::byte* base) {
  const bool affine = c.layer != "instancenorm";
  floor_forward(c.dtype, floor, base + o.x, base + o.out,
                affine ? reinterpret_cast<const float*>(base + o.gamma) : nullptr,
                affine ? reinterpret_cast<const float*>(base + o.beta) : nullptr);
}

// The floor must do the layer's work: its y on the case's operands (values in [-2, 2),
// where its plain sums are accurate) against the layer's, within a few roundings.
void check_floor(const NormCase& c, const Slab& o, const FloorShape& floor, std::byte* base, Arena& arena) {
  const int64_t n = norm_shape(c).numel();
  run_case(c, o, base, arena);
  std::vector<float> layer(static_cast<std::size_t>(n)), ours(static_cast<std::size_t>(n));
  convert(base + o.out, c.dtype, layer.data(), DType::F32, std::size_t(n));
  run_floor(c, o, floor, base);
  convert(base + o.out, c.dtype, ours.data(), DType::F32, std::size_t(n));
  const float tolerance = c.dtype == DType::F32 ? 1e-4f : 2e-2f;  // relative to 1 + |y|
  for (int64_t i = 0; i < n; ++i) {
    const float y = layer[std::size_t(i)], f = ours[std::size_t(i)];
    DN_CHECK(std::abs(f - y) <= tolerance * (1 + std::abs(y)),
             "bench norm: the floor of {} {} writes y[{}] = {}, the layer {}", c.layer, shape_text(c.shape), i, f, y);
  }
}

struct Options {
  bool json = false;
  bool quick = false;
  std::string layer;
  std::string layout, dtype, direction;  // empty: all
  std::string memory = "both";
  double cache_mib = 24;
  double dram_mib = 1024;
};

struct Result {
  double ms, gbps, copy_gbps, read_gbps;
  std::string copy_kind;
  std::optional<double> floor_gbps;
};

Result measure(const NormCase& c, Memory memory, const Options& opt, BenchPool& pool) {
  const Slab slab = plan_slab(c);
  const std::size_t copies =
      memory == Memory::Cache
          ? 1
          : std::max<std::size_t>(2, std::size_t(std::ceil(opt.dram_mib * 1048576.0 / double(slab.bytes))));
  std::byte* ring = pool.get(copies * slab.bytes);
  Arena arena;
  prepare_slab(c, slab, ring, arena);
  const std::optional<FloorShape> floor = floor_shape(c);
  if (floor) check_floor(c, slab, *floor, ring, arena);
  for (std::size_t k = 1; k < copies; ++k) std::memcpy(ring + k * slab.bytes, ring, slab.bytes);

  // The copy moves the same traffic: half of it read, half written.
  const std::size_t half = slab.traffic / 2 / 64 * 64;
  // The read baseline reads the activation operands (x, dy, y or dx), each split evenly
  // over the threads as the kernels split them, so that no thread reads lines another
  // thread's cache holds.
  const std::size_t read_bytes = slab.act * (c.backward ? 3 : 2);
  uint64_t checksum = 0;
  auto read_operands = [&](std::byte* base) {
    for (std::size_t at : {slab.x, slab.out}) checksum ^= parallel_read(base + at, slab.act);
    if (c.backward) checksum ^= parallel_read(base + slab.dy, slab.act);
  };
  auto at = [&](std::size_t call) { return ring + (call % copies) * slab.bytes; };
  std::vector<Candidate> candidates = {
      [&](std::size_t call) { run_case(c, slab, at(call), arena); },
      [&](std::size_t call) { parallel_memcpy(at(call) + slab.bytes - half, at(call), half); },
      [&](std::size_t call) { parallel_stream_copy(at(call) + slab.bytes - half, at(call), half); },
      [&](std::size_t call) { read_operands(at(call)); }};
  if (floor) {
    candidates.push_back([&](std::size_t call) { run_floor(c, slab, *floor, at(call)); });
  }
  const TimingPlan plan = opt.quick ? TimingPlan::quick() : TimingPlan{};
  const std::vector<double> ms = median_ms_interleaved(candidates, plan);
  const double memcpy_gbps = 2.0 * double(half) / (ms[1] * 1e6);
  const double stream_gbps = 2.0 * double(half) / (ms[2] * 1e6);
  if (checksum == 1) std::fputc(' ', stderr);  // keeps the reads
  Result r{ms[0], double(slab.traffic) / (ms[0] * 1e6), std::max(memcpy_gbps, stream_gbps),
           double(read_bytes) / (ms[3] * 1e6), memcpy_gbps >= stream_gbps ? "memcpy" : "stream", std::nullopt};
  if (floor) r.floor_gbps = double(slab.traffic) / (ms[4] * 1e6);
  return r;
}

void bench_norm(const Options& opt) {
  DN_CHECK(opt.memory == "both" || opt.memory == "cache" || opt.memory == "dram",
           "bench norm: --memory must be cache, dram or both, got '{}'", opt.memory);
  std::vector<NormCase> cases;
  for (const NormCase& c : all_cases())
    if (c.layer.starts_with(opt.layer) && (opt.layout.empty() || c.layout == opt.layout) &&
        (opt.dtype.empty() || opt.dtype == (c.dtype == DType::F32 ? "f32" : "bf16")) &&
        (opt.direction.empty() || opt.direction == (c.backward ? "backward" : "forward")))
      cases.push_back(c);
  DN_CHECK(!cases.empty(),
           "bench norm: --layer '{}' matches no layer (groupnorm, groupnorm+silu, layernorm, rmsnorm, "
           "batchnorm-train, batchnorm-eval, instancenorm, pixelnorm, or a prefix of one) with --layout '{}' "
           "(nchw, nhwc, btd), --dtype '{}' (f32, bf16) and --direction '{}' (forward, backward)",
           opt.layer, opt.layout, opt.dtype, opt.direction);
  const int threads = num_threads();
  if (!opt.json) {
    fmt::print("diffnorm bench norm: {} threads, SIMD {}; cache = operands <= {} MiB reused, "
               "dram = a ring of >= {} MiB of operand copies\n",
               threads, hwy::TargetName(hwy::SupportedAndGeneratedTargets().front()), opt.cache_mib, opt.dram_mib);
    fmt::print("{:<16} {:<16} {:<5} {:<5} {:<9} {:<6} {:>9} {:>8} {:>9} {:>7} {:>9} {:>8}\n", "layer", "shape",
               "lay.", "dtype", "direction", "memory", "ms", "GB/s", "copy GB/s", "% copy", "read GB/s", "floor %");
  }
  BenchPool pool;
  for (const NormCase& c : cases) {
    const Slab slab = plan_slab(c);
    for (Memory memory : {Memory::Cache, Memory::Dram}) {
      if (memory == Memory::Cache && (opt.memory == "dram" || double(slab.bytes) > opt.cache_mib * 1048576.0))
        continue;
      if (memory == Memory::Dram && opt.memory == "cache") continue;
      const Result r = measure(c, memory, opt, pool);
      const char* memory_name = memory == Memory::Cache ? "cache" : "dram";
      const char* direction = c.backward ? "backward" : "forward";
      const std::string dtype = c.dtype == DType::F32 ? "f32" : "bf16";
      if (opt.json) {
        fmt::print(
            "{{\"layer\": \"{}\", \"shape\": [{}], \"layout\": \"{}\", \"dtype\": \"{}\", \"direction\": \"{}\", "
            "\"memory\": \"{}\", \"threads\": {}, \"bytes\": {}, \"ms\": {:.6g}, \"gbps\": {:.6g}, "
            "\"copy_gbps\": {:.6g}, \"copy_kind\": \"{}\", \"read_gbps\": {:.6g}, \"floor_gbps\": {}}}\n",
            c.layer, fmt::join(c.shape, ", "), c.layout, dtype, direction, memory_name, threads, slab.traffic, r.ms,
            r.gbps, r.copy_gbps, r.copy_kind, r.read_gbps,
            r.floor_gbps ? fmt::format("{:.6g}", *r.floor_gbps) : std::string("null"));
      } else {
        const std::string floor_pct =
            r.floor_gbps ? fmt::format("{:.0f}%", 100.0 * *r.floor_gbps / r.copy_gbps) : std::string("-");
        fmt::print("{:<16} {:<16} {:<5} {:<5} {:<9} {:<6} {:>9.4f} {:>8.1f} {:>9.1f} {:>6.0f}% {:>9.1f} {:>8}\n",
                   c.layer, shape_text(c.shape), c.layout, dtype, direction, memory_name, r.ms, r.gbps, r.copy_gbps,
                   100.0 * r.gbps / r.copy_gbps, r.read_gbps, floor_pct);
      }
      std::fflush(stdout);
    }
  }
}

const RegisterBench kBenchNorm{
    {"norm", "Every normalization layer on Stable Diffusion shapes, beside a memory copy of the same bytes",
     [](CLI::App& sub) {
       auto opt = std::make_shared<Options>();
       sub.add_flag("--json", opt->json, "One JSON object per line and case");
       sub.add_flag("--quick", opt->quick, "Fewer and shorter samples (noisier)");
       sub.add_option("--layer", opt->layer, "Only layers whose name starts with this (e.g. groupnorm, batchnorm)");
       sub.add_option("--layout", opt->layout, "Only this layout: nchw, nhwc or btd");
       sub.add_option("--dtype", opt->dtype, "Only this storage: f32 or bf16");
       sub.add_option("--direction", opt->direction, "Only forward or backward");
       sub.add_option("--memory", opt->memory, "cache, dram or both")->capture_default_str();
       sub.add_option("--cache-mib", opt->cache_mib, "Largest working set measured in cache")
           ->capture_default_str()
           ->check(CLI::PositiveNumber);
       sub.add_option("--dram-mib", opt->dram_mib, "Size of the ring of operand copies for DRAM figures")
           ->capture_default_str()
           ->check(CLI::PositiveNumber);
       return std::function<void()>([opt] { bench_norm(*opt); });
     }}};

}  // namespace
}  // namespace diffnorm::cli
