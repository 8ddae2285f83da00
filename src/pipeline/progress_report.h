// The end-of-run summary: seconds per stage (load, text encoding, sampling, decoding) and
// the process's peak resident memory (VmHWM of /proc/self/status).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace diffnorm {

/// Peak resident set size in bytes (0 where /proc/self/status is not available).
uint64_t peak_resident_bytes();

/// "load 0.12 s, text encoding 0.01 s, ... | peak memory 123.4 MiB"
std::string format_stage_summary(const std::vector<std::pair<std::string, double>>& stages);

}  // namespace diffnorm
