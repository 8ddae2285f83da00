#include "diffnorm/threads.h"

#include <omp.h>

#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>

namespace diffnorm {

int physical_cores() {
  // Distinct (physical id, core id) pairs in /proc/cpuinfo; fall back to the logical count.
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<int, int>> cores;
  int physical = 0;
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    const std::string value = line.substr(colon + 1);
    if (key == "physical id") physical = std::stoi(value);
    if (key == "core id") cores.insert({physical, std::stoi(value)});
  }
  if (!cores.empty()) return int(cores.size());
  const unsigned logical = std::thread::hardware_concurrency();
  return logical > 0 ? int(logical) : 1;
}

void set_num_threads(int n) { omp_set_num_threads(n > 0 ? n : physical_cores()); }

int num_threads() { return omp_get_max_threads(); }

}  // namespace diffnorm
