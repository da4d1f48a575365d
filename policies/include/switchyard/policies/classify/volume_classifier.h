#pragma once
// VolumeClassifier: is a request interactive or part of bulk work?
//
// Bulk when any of: the client declares it (`x-switchyard-workload: bulk`), it comes from the
// batch API (a flag the gateway sets), or its tenant's rolling rate over the configured
// window passes a threshold (requests, or estimated prompt tokens). A declared `interactive`
// cannot lower a tenant's measured rate: like the sensitivity label, a declaration only
// raises.
//
// The window slides in 60 buckets of window/60 each, per tenant, so memory per tenant is
// fixed however fast it calls. Thread-safe (one mutex; the critical section is a few adds).

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "switchyard/policies/rules/policy.h"

namespace sy::policies {

struct VolumeSignals {
  std::string_view workload_header;  // x-switchyard-workload; empty when absent
  bool batch_origin = false;         // submitted through the batch API
  std::string_view tenant;
  uint64_t estimated_tokens = 0;     // the request's prompt, estimated
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
};

struct VolumeResult {
  VolumeClass volume = VolumeClass::interactive;
  std::string reason;              // why: "declared", "batch", "rate: 612 requests in 60000 ms"
  uint64_t window_requests = 0;    // the tenant's, this request included
  uint64_t window_tokens = 0;
};

class VolumeClassifier {
 public:
  explicit VolumeClassifier(VolumeConfig config) : config_(config) {}

  // Counts the request in its tenant's window, then classifies it. An unknown header value
  // is an error (its message is safe to show the client).
  std::expected<VolumeResult, std::string> classify(const VolumeSignals& signals);
  // The same answer without counting the request (route explain).
  std::expected<VolumeResult, std::string> peek(const VolumeSignals& signals) const;

  const VolumeConfig& config() const { return config_; }

 private:
  static constexpr size_t kBuckets = 60;
  struct Bucket {
    int64_t epoch = -1;  // which bucket-length interval since the clock's epoch it counts
    uint64_t requests = 0;
    uint64_t tokens = 0;
  };
  using Window = std::array<Bucket, kBuckets>;

  std::expected<VolumeResult, std::string> decide(const VolumeSignals& signals, bool count) const;
  int64_t epoch_of(std::chrono::steady_clock::time_point now) const;

  VolumeConfig config_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, Window, std::less<>> tenants_;  // guarded by mutex_
};

}  // namespace sy::policies
