// `diffnorm bench unet|vae-decode|text-encoder --config DIR`: one network of a real
// pipeline config (../shared/configs/sd15, sdxl-base, ...) built at full size with
// deterministic random weights (nn::RandomWeights), timed on the usual inputs, with the
// process's peak resident memory. The weights' values do not change the work done, so the
// time is the time of the real model.
//
//   unet          one evaluation at W×H (latent W/8 × H/8), batch 2 as with classifier-free
//                 guidance; SDXL's text_time conditions are filled in from the config
//   vae-decode    the decoder (with post_quant_conv) from a W/8 × H/8 latent to W×H
//   text-encoder  every text encoder of the folder on 77 tokens
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <time.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/bench_command.h"
#include "core/check.h"
#include "diffnorm/buffer_pool.h"
#include "diffnorm/threads.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_2d_condition_model.h"
#include "nn/config_reader.h"
#include "ops/compute_precision.h"
#include "nn/weight_source.h"
#include "pipeline/progress_report.h"

namespace diffnorm::cli {
namespace {

namespace fs = std::filesystem;

struct ModelBenchArgs {
  std::string config_dir;
  int width = 0, height = 0;  // 0: the config's training size
  int batch = 0;              // 0: 2 for the UNet (CFG), 1 otherwise
  int runs = 3;
  int warmup = 1;
  bool json = false;
};

// A tensor of `shape` with values spread like a latent / an embedding (the values do not
// change the work; they only have to be finite and not degenerate).
Tensor filled(const Shape& shape, uint32_t seed) {
  Tensor t = Tensor::empty(shape);
  float* p = t.data<float>();
  uint32_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = float(int32_t(s >> 8) - (1 << 23)) / float(1 << 23);
  }
  return t;
}

nn::ConfigReader component_config(const std::string& dir, const std::string& component) {
  const fs::path path = fs::path(dir) / component / "config.json";
  DN_CHECK(fs::exists(path), "{}: no {}/config.json (expected a pipeline folder such as ../shared/configs/sd15)", dir,
           component);
  return nn::ConfigReader::load(path.string());
}

// The training resolution in pixels: the UNet's sample_size × the VAE's scale factor.
int default_pixels(const std::string& dir) {
  const auto unet = models::UNet2DConditionConfig::from(component_config(dir, "unet"));
  const auto vae = models::AutoencoderKLConfig::from(component_config(dir, "vae"));
  return int(unet.sample_size) << (vae.levels() - 1);
}

struct Measured {
  std::string what;
  std::string shape;
  double build_s = 0;
  std::vector<double> run_s;
  std::vector<double> cpu_s;  // process CPU time of each run (all threads)
  uint64_t fresh_buffers = 0;  // tensor buffers the timed runs took from the system, not the pool
  uint64_t peak_bytes = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU seconds of every thread of the process: on a loaded machine the wall time stretches,
// the CPU time of a single-threaded run much less, so it tells kernel changes apart.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Times `run` (after `warmup` discarded calls) and records the process's peak memory.
void time_runs(const ModelBenchArgs& args, Measured& m, const std::function<void()>& run) {
  for (int i = 0; i < args.warmup; ++i) run();
  const uint64_t misses_before = buffer_pool_stats().misses;
  for (int i = 0; i < args.runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = process_cpu_seconds();
    run();
    m.run_s.push_back(seconds_since(start));
    m.cpu_s.push_back(process_cpu_seconds() - cpu_start);
    if (!args.json) fmt::print(stderr, "  run {}/{}: {:.3f} s (cpu {:.3f} s)\n", i + 1, args.runs, m.run_s.back(), m.cpu_s.back());
  }
  m.peak_bytes = peak_resident_bytes();
  m.fresh_buffers = buffer_pool_stats().misses - misses_before;
}

Measured bench_unet(const ModelBenchArgs& args, int width, int height) {
  const auto config = models::UNet2DConditionConfig::from(component_config(args.config_dir, "unet"));
  const auto vae = models::AutoencoderKLConfig::from(component_config(args.config_dir, "vae"));
  const int factor = 1 << (vae.levels() - 1);
  const int64_t batch = args.batch > 0 ? args.batch : 2;
  const int64_t h = height / factor, w = width / factor;
  Measured m;
  m.what = "unet";
  m.shape = fmt::format("[{}, {}, {}, {}]", batch, config.in_channels, h, w);

  const auto start = std::chrono::steady_clock::now();
  nn::RandomWeights weights(1);
  const models::UNet2DConditionModel unet(weights, config);
  m.build_s = seconds_since(start);

  const Tensor sample = filled({batch, h, w, config.in_channels}, 1);
  const Tensor timestep = Tensor::full({batch}, 500.0);
  const Tensor context = filled({batch, 77, config.cross_attention_dim}, 2);
  models::UNetAddedCond added;
  if (config.addition_embed_type) {
    // text_time: pooled width = projection input − time ids × sinusoid width; base 6 ids
    // (sizes and crop), refiner 5 (with the aesthetic score) — told apart by the width.
    const int64_t ids = config.projection_class_embeddings_input_dim > 2560 ? 6 : 5;
    const int64_t pooled = config.projection_class_embeddings_input_dim - ids * config.addition_time_embed_dim;
    DN_CHECK(pooled > 0, "{}: addition_time_embed_dim does not fit projection_class_embeddings_input_dim",
             args.config_dir);
    added.text_embeds = filled({batch, pooled}, 3);
    added.time_ids = Tensor::full({batch, ids}, double(height));
  }
  time_runs(args, m, [&] { unet.forward(sample, timestep, context, added); });
  return m;
}

Measured bench_vae_decode(const ModelBenchArgs& args, int width, int height) {
  const auto config = models::AutoencoderKLConfig::from(component_config(args.config_dir, "vae"));
  const int factor = 1 << (config.levels() - 1);
  const int64_t batch = args.batch > 0 ? args.batch : 1;
  Measured m;
  m.what = "vae-decode";
  m.shape = fmt::format("[{}, {}, {}, {}]", batch, config.latent_channels, height / factor, width / factor);
  const auto start = std::chrono::steady_clock::now();
  nn::RandomWeights weights(1);
  const models::AutoencoderKL vae(weights, config);
  m.build_s = seconds_since(start);
  const Tensor z = filled({batch, height / factor, width / factor, config.latent_channels}, 1);
  time_runs(args, m, [&] { vae.decode(z); });
  return m;
}

std::vector<Measured> bench_text_encoders(const ModelBenchArgs& args) {
  std::vector<Measured> all;
  for (const std::string component : {"text_encoder", "text_encoder_2"}) {
    if (!fs::exists(fs::path(args.config_dir) / component / "config.json")) continue;
    const auto config = models::CLIPTextConfig::from(component_config(args.config_dir, component));
    const int64_t batch = args.batch > 0 ? args.batch : 1;
    Measured m;
    m.what = component;
    m.shape = fmt::format("[{}, 77]", batch);
    const auto start = std::chrono::steady_clock::now();
    nn::RandomWeights weights(1);
    const models::CLIPTextModel model(weights, config);
    m.build_s = seconds_since(start);
    Tensor ids = Tensor::empty({batch, 77}, DType::I64);
    for (int64_t i = 0; i < ids.numel(); ++i) ids.data<int64_t>()[i] = i % 77 == 76 ? 49407 : 320 + i % 1000;
    time_runs(args, m, [&] { model.forward(ids); });
    all.push_back(std::move(m));
  }
  DN_CHECK(!all.empty(), "{}: no text_encoder/ or text_encoder_2/ config.json", args.config_dir);
  return all;
}

void report(const ModelBenchArgs& args, const std::vector<Measured>& results) {
  for (const Measured& m : results) {
    double best = m.run_s.front(), sum = 0, best_cpu = m.cpu_s.front();
    for (double s : m.run_s) best = std::min(best, s), sum += s;
    for (double s : m.cpu_s) best_cpu = std::min(best_cpu, s);
    const double gib = double(m.peak_bytes) / (1024.0 * 1024.0 * 1024.0);
    if (args.json) {
      const nlohmann::json line = {{"model", m.what},        {"config", args.config_dir},
                                   {"input", m.shape},       {"threads", num_threads()},
                                   {"precision", std::string(ops::to_string(ops::compute_precision()))},
                                   {"build_s", m.build_s},   {"best_s", best},
                                   {"mean_s", sum / double(m.run_s.size())},
                                   {"best_cpu_s", best_cpu}, {"runs", m.run_s.size()},
                                   {"peak_gib", gib},        {"fresh_buffers", m.fresh_buffers}};
      fmt::print("{}\n", line.dump());
    } else {
      fmt::print("{:<15} {:<20} {} threads, {}: best {:.3f} s, mean {:.3f} s over {} runs (cpu {:.3f} s; build {:.1f} s), "
                 "peak memory {:.2f} GiB, {} fresh buffers\n",
                 m.what, m.shape, num_threads(), ops::to_string(ops::compute_precision()), best,
                 sum / double(m.run_s.size()), m.run_s.size(), best_cpu, m.build_s, gib, m.fresh_buffers);
    }
  }
}

void add_model_bench(const std::string& name, const std::string& summary) {
  RegisterBench{{name, summary, [name](CLI::App& sub) {
                   auto args = std::make_shared<ModelBenchArgs>();
                   sub.add_option("--config", args->config_dir,
                                  "Pipeline folder of config.json files (e.g. ../shared/configs/sd15)")
                       ->required()
                       ->check(CLI::ExistingDirectory);
                   if (name != "text-encoder") {
                     sub.add_option("-W,--width", args->width, "Image width in pixels (default: the model's size)")
                         ->check(CLI::Range(8, 8192));
                     sub.add_option("-H,--height", args->height, "Image height in pixels (default: the model's size)")
                         ->check(CLI::Range(8, 8192));
                   }
                   sub.add_option("--batch", args->batch, "Batch (default: 2 for the UNet, as with CFG; else 1)")
                       ->check(CLI::Range(1, 64));
                   sub.add_option("--runs", args->runs, "Timed runs (default 3)")->check(CLI::Range(1, 1000));
                   sub.add_option("--warmup", args->warmup, "Untimed runs first (default 1)")->check(CLI::Range(0, 100));
                   sub.add_flag("--json", args->json, "One JSON object per model");
                   return std::function<void()>([args, name] {
                     std::vector<Measured> results;
                     if (name == "text-encoder") {
                       results = bench_text_encoders(*args);
                     } else {
                       const int size = default_pixels(args->config_dir);
                       const int width = args->width ? args->width : size, height = args->height ? args->height : size;
                       DN_CHECK(width % 8 == 0 && height % 8 == 0, "--width and --height must be multiples of 8 (got {}x{})",
                                width, height);
                       results.push_back(name == "unet" ? bench_unet(*args, width, height)
                                                        : bench_vae_decode(*args, width, height));
                     }
                     report(*args, results);
                   });
                 }}};
}

const bool kRegistered = [] {
  add_model_bench("unet", "One UNet evaluation of a full-size model (random weights) from a config folder");
  add_model_bench("vae-decode", "One VAE decode of a full-size model (random weights) from a config folder");
  add_model_bench("text-encoder", "The text encoder(s) of a full-size model (random weights) on 77 tokens");
  return true;
}();

}  // namespace
}  // namespace diffnorm::cli
