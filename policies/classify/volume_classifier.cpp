#include "switchyard/policies/classify/volume_classifier.h"

#include <algorithm>

namespace sy::policies {

int64_t VolumeClassifier::epoch_of(std::chrono::steady_clock::time_point now) const {
  const int64_t bucket_ms =
      std::max<int64_t>(1, config_.window.count() / static_cast<int64_t>(kBuckets));
  return std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() /
         bucket_ms;
}

std::expected<VolumeResult, std::string> VolumeClassifier::classify(const VolumeSignals& signals) {
  return decide(signals, true);
}

std::expected<VolumeResult, std::string> VolumeClassifier::peek(
    const VolumeSignals& signals) const {
  return decide(signals, false);
}

std::expected<VolumeResult, std::string> VolumeClassifier::decide(const VolumeSignals& signals,
                                                                 bool count) const {
  std::optional<VolumeClass> declared;
  if (!signals.workload_header.empty()) {
    declared = parse_volume_class(signals.workload_header);
    if (!declared) {
      return std::unexpected("x-switchyard-workload: unknown workload '" +
                             std::string(signals.workload_header.substr(0, 64)) +
                             "' (expected interactive or bulk)");
    }
  }

  VolumeResult result;
  const bool rate_on = config_.bulk_requests_per_window > 0 || config_.bulk_tokens_per_window > 0;
  if (rate_on) {
    const int64_t now = epoch_of(signals.now);
    std::lock_guard lock(mutex_);
    auto it = tenants_.find(signals.tenant);
    if (it == tenants_.end() && count) {
      it = tenants_.emplace(std::string(signals.tenant), Window{}).first;
    }
    if (it != tenants_.end()) {
      Window& window = it->second;
      if (count) {
        Bucket& bucket = window[static_cast<size_t>(now) % kBuckets];
        if (bucket.epoch != now) bucket = Bucket{.epoch = now};
        bucket.requests += 1;
        bucket.tokens += signals.estimated_tokens;
      }
      for (const Bucket& b : window) {
        if (b.epoch > now - static_cast<int64_t>(kBuckets) && b.epoch <= now) {
          result.window_requests += b.requests;
          result.window_tokens += b.tokens;
        }
      }
    }
    if (!count) {  // as if this request were counted too
      result.window_requests += 1;
      result.window_tokens += signals.estimated_tokens;
    }
  }

  const std::string window_ms = std::to_string(config_.window.count());
  if (declared == VolumeClass::bulk) {
    result.volume = VolumeClass::bulk;
    result.reason = "declared bulk (x-switchyard-workload)";
  } else if (signals.batch_origin) {
    result.volume = VolumeClass::bulk;
    result.reason = "batch API";
  } else if (config_.bulk_requests_per_window > 0 &&
             result.window_requests > config_.bulk_requests_per_window) {
    result.volume = VolumeClass::bulk;
    result.reason = "tenant rate: " + std::to_string(result.window_requests) + " requests in " +
                    window_ms + " ms (bulk above " +
                    std::to_string(config_.bulk_requests_per_window) + ")";
  } else if (config_.bulk_tokens_per_window > 0 &&
             result.window_tokens > config_.bulk_tokens_per_window) {
    result.volume = VolumeClass::bulk;
    result.reason = "tenant rate: " + std::to_string(result.window_tokens) + " tokens in " +
                    window_ms + " ms (bulk above " +
                    std::to_string(config_.bulk_tokens_per_window) + ")";
  } else {
    result.volume = VolumeClass::interactive;
    result.reason = declared ? "declared interactive" : "no bulk signal";
  }
  return result;
}

}  // namespace sy::policies
