#include "pipeline/progress_bar.h"

#include <unistd.h>

#include <fmt/format.h>

namespace diffnorm {

ProgressBar::ProgressBar() : terminal_(isatty(STDERR_FILENO) != 0), last_(std::chrono::steady_clock::now()) {}

void ProgressBar::restart() { last_ = std::chrono::steady_clock::now(); }

void ProgressBar::update(const std::string& stage, int done, int total) {
  const auto now = std::chrono::steady_clock::now();
  const double step_s = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = total > 0 ? done * kWidth / total : kWidth;
    fmt::print(stderr, "\r{:<8} [{}{}] {}/{}  {:.2f} s/it", stage, std::string(filled, '#'),
               std::string(kWidth - filled, '.'), done, total, step_s);
    if (done == total) fmt::print(stderr, "\n");
  } else {
    fmt::print(stderr, "{} step {}/{}  {:.2f} s\n", stage, done, total, step_s);
  }
  std::fflush(stderr);
}

}  // namespace diffnorm
