#include "metrics/latency_histogram.h"

#include <cassert>
#include <cmath>

namespace sy::gateway::metrics {

LatencyHistogram::LatencyHistogram(std::span<const double> upper_bounds) : bounds_(upper_bounds) {
  assert(upper_bounds.size() <= kMaxBuckets);
  for (size_t i = 0; i < bounds_.size(); ++i) {
    bounds_ns_[i] = static_cast<int64_t>(std::llround(bounds_[i] * 1e9));
    assert(i == 0 || bounds_ns_[i] > bounds_ns_[i - 1]);
  }
}

void LatencyHistogram::observe(std::chrono::nanoseconds d) {
  const int64_t ns = d.count() < 0 ? 0 : d.count();
  size_t i = 0;
  while (i < bounds_.size() && ns > bounds_ns_[i]) ++i;  // `le`: a bound includes itself
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running + counts_[bounds_.size()].load(std::memory_order_relaxed);
  s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

}  // namespace sy::gateway::metrics
