#pragma once
// VolumeClassifier: is a request interactive or part of bulk work?
//
// Bulk when any of: the client declares it (`x-switchyard-workload: bulk`), it comes from the
// batch API (a flag the gateway sets), its tenant's rolling rate over the configured window
// passes a threshold (requests, or estimated prompt tokens), or its prompt repeats a template
// the tenant sent many times in the window: the prompt with digit runs and capitalized words
// (names) masked and blanks collapsed, its first template_prefix_bytes hashed; the last 256
// such hashes are kept per tenant (4 KiB) and those inside the window counted. A declared
// `interactive` cannot lower a tenant's measured rate: like the sensitivity label, a
// declaration only raises.
//
// The window slides in 60 buckets of window/60 each, per tenant, so memory per tenant is
// fixed however fast it calls. Thread-safe (one mutex; the critical section is a few adds).

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/chat.h"

#include "switchyard/policies/rules/policy.h"

namespace sy::policies {

struct VolumeSignals {
  std::string_view workload_header;  // x-switchyard-workload; empty when absent
  bool batch_origin = false;         // submitted through the batch API
  std::string_view tenant;
  uint64_t estimated_tokens = 0;  // the request's prompt, estimated
  // The prompt's first bytes (prompt_head()); shorter than template_prefix_bytes: no template.
  std::string_view prompt_head;
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
};

struct VolumeResult {
  VolumeClass volume = VolumeClass::interactive;
  std::string reason;            // why: "declared", "batch", "rate: 612 requests in 60000 ms"
  uint64_t window_requests = 0;  // the tenant's, this request included
  uint64_t window_tokens = 0;
  uint64_t template_repeats = 0;  // earlier requests in the window with this prompt's template
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

  // The first 4 * `bytes` bytes of the request's prompt text (the legacy prompt, then the
  // messages' text parts in order), for VolumeSignals::prompt_head.
  static std::string prompt_head(const backends::ChatRequest& request, size_t bytes);
  // The template of a prompt head: a hash of its first `bytes` bytes once digit runs and
  // capitalized words are masked (one byte each) and blank runs collapsed; nullopt when the
  // head is shorter than that.
  static std::optional<uint64_t> template_key(std::string_view head, size_t bytes);

 private:
  static constexpr size_t kBuckets = 60;
  struct Bucket {
    int64_t epoch = -1;  // which bucket-length interval since the clock's epoch it counts
    uint64_t requests = 0;
    uint64_t tokens = 0;
  };
  using Window = std::array<Bucket, kBuckets>;
  static constexpr size_t kTemplates = 256;
  struct Seen {
    uint64_t key = 0;
    int64_t at_ms = INT64_MIN;  // steady clock, ms
  };
  struct Tenant {
    Window window;
    std::vector<Seen> templates;  // ring of kTemplates, allocated when first used
    size_t next = 0;
  };

  std::expected<VolumeResult, std::string> decide(const VolumeSignals& signals, bool count) const;
  int64_t epoch_of(std::chrono::steady_clock::time_point now) const;

  VolumeConfig config_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, Tenant, std::less<>> tenants_;  // guarded by mutex_
};

}  // namespace sy::policies
