// Process-wide settings a test changes for one scope: each is put back when the scope ends,
// also when a failed ASSERT or an exception leaves it early, so that the tests after it
// run with the settings they expect.
#pragma once

#include <omp.h>

#include "hwy/targets.h"

namespace diffnorm::test {

// Keeps `var`'s value and writes it back at the end of the scope.
template <class T>
class ScopedValue {
 public:
  explicit ScopedValue(T& var) : var_(var), saved_(var) {}
  ScopedValue(const ScopedValue&) = delete;
  ScopedValue& operator=(const ScopedValue&) = delete;
  ~ScopedValue() { var_ = saved_; }
  const T& saved() const { return saved_; }

 private:
  T& var_;
  const T saved_;
};

// The SIMD targets a test mocks with hwy::SetSupportedTargetsForTest: back to those of
// the CPU at the end of the scope.
struct ScopedTargetMock {
  ScopedTargetMock() = default;
  ScopedTargetMock(const ScopedTargetMock&) = delete;
  ScopedTargetMock& operator=(const ScopedTargetMock&) = delete;
  ~ScopedTargetMock() { hwy::SetSupportedTargetsForTest(0); }
};

// OpenMP's thread count for the parallel regions that follow (omp_set_num_threads): the
// one before at the end of the scope.
class ScopedThreadCount {
 public:
  ScopedThreadCount() : saved_(omp_get_max_threads()) {}
  ScopedThreadCount(const ScopedThreadCount&) = delete;
  ScopedThreadCount& operator=(const ScopedThreadCount&) = delete;
  ~ScopedThreadCount() { omp_set_num_threads(saved_); }

 private:
  const int saved_;
};

}  // namespace diffnorm::test
