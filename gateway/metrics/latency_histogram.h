#pragma once
// A fixed-bucket histogram of durations for the request path: observe() is one bucket search
// over at most kMaxBuckets bounds and three relaxed atomic adds; no lock, no allocation.
// Buckets are counted per bucket and made cumulative at scrape, and the scrape's `count` is
// the sum of the buckets it read, so the +Inf bucket always equals _count even while
// observations race with the scrape (_sum may be one observation ahead or behind).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

namespace sy::gateway::metrics {

class LatencyHistogram {
 public:
  static constexpr size_t kMaxBuckets = 24;

  // `upper_bounds` in seconds, strictly increasing, at most kMaxBuckets; it must outlive the
  // histogram (pass a static array).
  explicit LatencyHistogram(std::span<const double> upper_bounds);

  void observe(std::chrono::nanoseconds d);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // (upper_bounds.size())
    uint64_t count = 0;
    double sum_seconds = 0;
  };
  Snapshot snapshot() const;
  std::span<const double> upper_bounds() const { return bounds_; }

 private:
  std::span<const double> bounds_;
  std::array<int64_t, kMaxBuckets> bounds_ns_{};
  // (bounds + 1): the last slot counts observations above every bound.
  std::array<std::atomic<uint64_t>, kMaxBuckets + 1> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

// Request latency: from 5 ms to 10 minutes (model calls are slow and long-tailed).
inline constexpr std::array<double, 16> kRequestSecondsBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 600};
// Time to first token: from 1 ms (a local model's cache hit) to 1 minute.
inline constexpr std::array<double, 14> kFirstTokenSecondsBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60};

}  // namespace sy::gateway::metrics
