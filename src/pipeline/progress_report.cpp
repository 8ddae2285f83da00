#include "pipeline/progress_report.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace diffnorm {

uint64_t peak_resident_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream s(line.substr(6));
      uint64_t kib = 0;
      s >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

std::string format_stage_summary(const std::vector<std::pair<std::string, double>>& stages) {
  std::string out;
  double total = 0;
  for (const auto& [name, s] : stages) {
    out += fmt::format("{}{} {:.2f} s", out.empty() ? "" : ", ", name, s);
    total += s;
  }
  out += fmt::format(" (total {:.2f} s)", total);
  const uint64_t peak = peak_resident_bytes();
  if (peak) out += fmt::format(" | peak memory {:.1f} MiB", double(peak) / (1024.0 * 1024.0));
  return out;
}

}  // namespace diffnorm
