// One thread-count setting for diffnorm's kernels and oneDNN (both run on OpenMP).
#pragma once

namespace diffnorm {

/// Physical cores of this machine (hyper-threads not counted); at least 1.
int physical_cores();
/// Sets the OpenMP thread count used by diffnorm and oneDNN; n <= 0 means physical_cores().
void set_num_threads(int n);
/// The current setting.
int num_threads();

}  // namespace diffnorm
