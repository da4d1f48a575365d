#pragma once
// The sensitivity benches' shared text and clocks: mixed text (prose, code, log lines, order
// numbers, timestamps, versions; one PII value per ~400 bytes), one core's memory read
// bandwidth, and the calling thread's CPU time.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace sy::bench {

inline std::string mixed_text(size_t bytes, unsigned seed) {
  static const char* kProse[] = {
      "The quarterly report shows revenue growth across all regions, driven by renewals. ",
      "Please review the attached proposal and let me know if the timeline works for you. ",
      "We observed increased latency on the ingestion path after the 2.14.1 release. ",
      "Summarise the following meeting notes in three bullet points for the steering group. ",
      "for (int i = 0; i < n; ++i) { total += weights[i] * values[i]; } return total; ",
      "2026-11-23T17:03:51Z INFO request_id=9f2c1ab0 status=200 latency_ms=41 bytes=5123 ",
      "Order 88412375 shipped on 12/03/2025; tracking 1Z999AA10123456784 via ground. ",
      "Version 3.2.0 fixes a crash when the cache directory is missing; see issue #4121. ",
  };
  static const char* kPii[] = {
      "Card 4111 1111 1111 1111 exp 12/27. ",
      "Reach me at anna.schmidt@example.de. ",
      "Call +44 20 7946 0958 after five. ",
      "IBAN DE89 3704 0044 0532 0130 00. ",
      "SSN 536-22-1234 on file. ",
      "Dear Eleanor Whitfield, thanks. ",
      "key AKIAIOSFODNN7EXAMPLE leaked. ",
      "host 10.20.30.40 is down. ",
      "DOB: 14/02/1987. ",
      "ship to 221B Baker Street. ",
  };
  std::mt19937 rng(seed);
  std::string out;
  while (out.size() < bytes) {
    out += kProse[rng() % std::size(kProse)];
    if (rng() % 5 == 0) out += kPii[rng() % std::size(kPii)];
  }
  out.resize(bytes);
  return out;
}

inline double memory_read_gbps() {
  // (256 MiB) summed as 64-bit words, best of 3: one core's streaming read bandwidth.
  std::vector<uint64_t> buffer((256u << 20) / 8, 1);
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    auto start = std::chrono::steady_clock::now();
    uint64_t sum = 0;
    for (uint64_t v : buffer) sum += v;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (sum == 0) std::puts("");
    best = std::max(best, buffer.size() * 8.0 / s / 1e9);
  }
  return best;
}

inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace sy::bench
