// `diffnorm env`: what this build runs on (SIMD target chosen at run time, threads, oneDNN).
#include <fmt/format.h>

#include "cli/command.h"
#include "diffnorm/threads.h"
#include "hwy/targets.h"

namespace diffnorm::cli {
namespace {

const RegisterCommand kEnv{{"env", "Print the SIMD target, thread count and library versions", [](CLI::App&) {
                              return std::function<void()>([] {
                                fmt::print("diffnorm 0.1.0\n");
                                fmt::print("simd target: {}\n", hwy::TargetName(hwy::SupportedAndGeneratedTargets().front()));
                                fmt::print("threads: {} (physical cores: {})\n", num_threads(),
                                           physical_cores());
                              });
                            }}};

}  // namespace
}  // namespace diffnorm::cli
