#pragma once
// One thread's int8 multiply-add peak, measured in the run that compares a kernel against it
// (bench_matmul, engine_matmul_q4_k_bench): the benches print GOP/s beside this figure.

#include <immintrin.h>
#include <time.h>

#include <cstdint>

namespace sy::bench {

inline double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// GOP/s (2 per multiply-add) of 12 independent 512-bit vpdpbusd chains (64 multiply-adds each)
// over `seconds` of this thread's CPU time.
__attribute__((target("avx512f,avx512vnni"))) inline double vnni512_peak_gops(double seconds) {
  constexpr int kChains = 12;
  __m512i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
  int64_t rounds = 0;
  const double t0 = thread_cpu_seconds();
  double t = t0;
  while (t - t0 < seconds) {
    for (int k = 0; k < 4096; ++k) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    }
    ++rounds;
    t = thread_cpu_seconds();
  }
  __m512i s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_epi32(s, acc[i]);
  volatile int sink = _mm512_reduce_add_epi32(s);
  (void)sink;
  return 2.0 * rounds * 4096 * kChains * 64 / (t - t0) / 1e9;
}

}  // namespace sy::bench
