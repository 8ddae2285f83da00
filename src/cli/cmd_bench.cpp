// `diffnorm bench`: the umbrella of the benchmarks registered through RegisterBench.
#include <algorithm>
#include <memory>

#include "cli/bench_command.h"

namespace diffnorm::cli {

std::vector<Command>& bench_registry() {
  static std::vector<Command> registry;
  return registry;
}

namespace {

const RegisterCommand kBench{
    {"bench", "Benchmarks (speed against a memory copy and against peers); see `bench --help`",
     [](CLI::App& sub) {
       sub.require_subcommand(1);
       auto& registry = bench_registry();
       std::sort(registry.begin(), registry.end(), [](auto& a, auto& b) { return a.name < b.name; });
       auto chosen = std::make_shared<std::function<void()>>();
       for (const Command& c : registry) {
         CLI::App* what = sub.add_subcommand(c.name, c.summary);
         auto run = c.setup(*what);
         what->callback([chosen, run] { *chosen = run; });
       }
       return std::function<void()>([chosen] {
         if (*chosen) (*chosen)();
       });
     }}};

}  // namespace
}  // namespace diffnorm::cli
