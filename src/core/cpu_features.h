// CPU features that Highway 1.0's targets do not cover, detected once at start-up.
#pragma once

namespace diffnorm::cpu {

inline bool detect_avx512_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

/// AVX512-BF16 (vcvtneps2bf16: f32 → bf16 rounded to nearest even in one instruction),
/// used by the AVX-512 target's bf16 stores. Not const so that tests can switch the
/// native path off and cover the integer rounding on the same machine.
inline bool use_avx512_bf16 = detect_avx512_bf16();

}  // namespace diffnorm::cpu
