// `diffnorm bench WHAT`: each benchmark registers itself as a sub-subcommand of `bench`
// (bench norm, later bench unet, ...) the same way subcommands register with the program.
#pragma once

#include "cli/command.h"

namespace diffnorm::cli {

std::vector<Command>& bench_registry();

struct RegisterBench {
  explicit RegisterBench(Command c) { bench_registry().push_back(std::move(c)); }
};

}  // namespace diffnorm::cli
