// Progress of the sampler steps on stderr: on a terminal one line redrawn in place
// ("base  [#######.....] 7/20  0.41 s/it"), otherwise one plain line per step so that logs
// stay readable.
#pragma once

#include <chrono>
#include <string>

namespace diffnorm {

class ProgressBar {
 public:
  ProgressBar();
  /// The clock of the next step starts now (at the start of a stage, so that the first
  /// step's time does not include the work before it).
  void restart();
  /// Step `done` of `total` of `stage` finished (1-based `done`).
  void update(const std::string& stage, int done, int total);

 private:
  bool terminal_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace diffnorm
