// The machine's compute peak, measured in the run that uses it (bench/engine_serving/run.sh): T
// threads at once run independent chains of the int8 dot-product instruction the batched matmul
// is built on (AVX-512 VNNI `vpdpbusd`, 64 multiply-adds per instruction; AVX2 VNNI when that is
// all there is), or of FP32 FMAs where the CPU has neither. Prints one JSON line:
//   {"kind":"int8_vnni512","threads":T,"gops_wall":..,"gops_cpu":..,"gops_cpu_per_thread":..}
// gops_wall: operations (2 per multiply-add) over wall time, all threads together: what this
// run's load left of the peak. gops_cpu: over the threads' CPU time, i.e. the peak of the cores
// while they ran (what a CPU-time measurement of a step is to be compared with).
//
//   engine_peak [--threads 2] [--ms 300]

#include <immintrin.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// 12 independent accumulators: enough to cover the instruction's latency at full throughput.
constexpr int kChains = 12;
constexpr int64_t kInner = 4096;

__attribute__((target("avx512f,avx512vnni"))) int64_t vnni512(int64_t rounds, int* sink) {
  __m512i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
  for (int64_t r = 0; r < rounds; ++r) {
    for (int64_t k = 0; k < kInner; ++k) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    }
  }
  __m512i s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_epi32(s, acc[i]);
  int out[16];
  _mm512_storeu_si512(out, s);
  *sink = out[0] + out[15];
  return rounds * kInner * kChains * 64;  // multiply-adds
}

__attribute__((target("avx2,avxvnni"))) int64_t vnni256(int64_t rounds, int* sink) {
  __m256i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_epi32(i);
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-5);
  for (int64_t r = 0; r < rounds; ++r) {
    for (int64_t k = 0; k < kInner; ++k) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm256_dpbusd_avx_epi32(acc[i], a, b);
    }
  }
  __m256i s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_epi32(s, acc[i]);
  int out[8];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), s);
  *sink = out[0] + out[7];
  return rounds * kInner * kChains * 32;
}

__attribute__((target("avx2,fma"))) int64_t fma256(int64_t rounds, int* sink) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
  for (int64_t r = 0; r < rounds; ++r) {
    for (int64_t k = 0; k < kInner; ++k) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
  }
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  *sink = static_cast<int>(out[0]);
  return rounds * kInner * kChains * 8;
}

}  // namespace

int main(int argc, char** argv) {
  size_t threads = 2;
  double ms = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--threads") {
      threads = std::stoul(argv[i + 1]);
    } else if (k == "--ms") {
      ms = std::stod(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: engine_peak [--threads 2] [--ms 300]\n");
      return 2;
    }
  }
  __builtin_cpu_init();
  const char* kind = "fp32_fma256";
  int64_t (*probe)(int64_t, int*) = fma256;
  if (__builtin_cpu_supports("avx512vnni")) {
    kind = "int8_vnni512";
    probe = vnni512;
  } else if (__builtin_cpu_supports("avxvnni")) {
    kind = "int8_vnni256";
    probe = vnni256;
  }
  // Calibrate one round on this thread, then size the run to about `ms` per thread.
  int sink = 0;
  auto t0 = std::chrono::steady_clock::now();
  probe(1, &sink);
  const double one = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t rounds =
      std::max<int64_t>(1, static_cast<int64_t>(ms * 1e-3 / std::max(one, 1e-6)));

  std::vector<double> cpu(threads);
  std::vector<int64_t> macs(threads);
  std::vector<int> sinks(threads);
  std::atomic<size_t> ready{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ++ready;
      while (ready.load() < threads) {
      }
      const double c0 = thread_cpu_seconds();
      macs[t] = probe(rounds, &sinks[t]);
      cpu[t] = thread_cpu_seconds() - c0;
    });
  }
  for (auto& th : pool) th.join();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double ops = 0, cpu_sum = 0;
  for (size_t t = 0; t < threads; ++t) {
    ops += 2.0 * static_cast<double>(macs[t]);
    cpu_sum += cpu[t];
  }
  const double per_thread_cpu = ops / cpu_sum / 1e9;
  std::printf(
      "{\"kind\":\"%s\",\"threads\":%zu,\"gops_wall\":%.1f,\"gops_cpu\":%.1f,"
      "\"gops_cpu_per_thread\":%.1f,\"sink\":%d}\n",
      kind, threads, ops / wall / 1e9, per_thread_cpu * threads, per_thread_cpu, sinks[0] & 1);
  return 0;
}
