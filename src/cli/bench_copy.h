// The copy baseline of the benchmarks: moving the same bytes with nothing computed, on the
// same OpenMP threads as the kernels. A kernel's "fraction of copy" is measured against it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace diffnorm::cli {

/// dst[0, bytes) = src[0, bytes) with glibc memcpy, one contiguous 64-byte-aligned chunk
/// per OpenMP thread.
void parallel_memcpy(void* dst, const void* src, std::size_t bytes);

/// Reads src[0, bytes) (SIMD, several independent accumulators, one contiguous share per
/// OpenMP thread) and returns a checksum: how fast these bytes can merely be read. A
/// kernel that must read its input twice cannot beat two of these.
uint64_t parallel_read(const void* src, std::size_t bytes);

/// The same with non-temporal (streaming) SIMD stores, which skip the read-for-ownership
/// of the destination lines: faster from DRAM, slower in cache. dst, src 64-byte aligned.
void parallel_stream_copy(void* dst, const void* src, std::size_t bytes);

}  // namespace diffnorm::cli
