// The `diffnorm` program: normalization layers and Stable Diffusion / SDXL on the CPU.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <exception>

#include "cli/command.h"
#include "diffnorm/error.h"
#include "diffnorm/threads.h"
#include "ops/compute_precision.h"

namespace diffnorm::cli {

std::vector<Command>& command_registry() {
  static std::vector<Command> registry;
  return registry;
}

}  // namespace diffnorm::cli

int main(int argc, char** argv) {
  using namespace diffnorm;
  CLI::App app{"diffnorm: normalization layers and a Stable Diffusion / SDXL engine for the CPU"};
  app.set_version_flag("--version", std::string("diffnorm 0.1.0"));
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "Threads for diffnorm and oneDNN (default: physical cores)")
      ->check(CLI::NonNegativeNumber);
  std::string precision = "fp32";
  app.add_option("--precision", precision,
                 "Arithmetic of convolutions and matrix products: fp32 (the reference's) or bf16 (bf16 inputs "
                 "and weights, fp32 accumulation: about twice as fast with AVX512-BF16, half the weight memory)")
      ->check(CLI::IsMember({"fp32", "bf16"}));

  auto& registry = cli::command_registry();
  std::sort(registry.begin(), registry.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::function<void()> action;
  for (const cli::Command& c : registry) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    auto run = c.setup(*sub);
    sub->callback([&action, run] { action = run; });
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    set_num_threads(threads);
    ops::set_compute_precision(ops::parse_compute_precision(precision));
    if (action) action();
  } catch (const diffnorm::Error& e) {
    std::fprintf(stderr, "diffnorm: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "diffnorm: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
