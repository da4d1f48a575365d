#include "switchyard/policies/classify/volume_classifier.h"

#include <algorithm>

namespace sy::policies {

int64_t VolumeClassifier::epoch_of(std::chrono::steady_clock::time_point now) const {
  const int64_t bucket_ms =
      std::max<int64_t>(1, config_.window.count() / static_cast<int64_t>(kBuckets));
  return std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() /
         bucket_ms;
}

std::string VolumeClassifier::prompt_head(const backends::ChatRequest& request, size_t bytes) {
  bytes *= 4;  // masking shortens it: room for `bytes` normalized bytes in most prompts
  std::string head = request.prompt.substr(0, bytes);
  for (const backends::Message& m : request.messages) {
    for (const backends::ContentPart& part : m.content) {
      if (head.size() >= bytes) return head;
      if (part.kind == backends::ContentPart::Kind::text) {
        head.append(part.text, 0, bytes - head.size());
      }
    }
  }
  return head;
}

std::optional<uint64_t> VolumeClassifier::template_key(std::string_view head, size_t bytes) {
  // FNV-1a over the first `bytes` normalized bytes: '#' for a digit run, 'N' for a word that
  // starts with a capital (names, but also sentence starts: the same in every copy of a
  // template), one ' ' for a run of blanks.
  uint64_t hash = 1469598103934665603ull;
  auto add = [&](char c) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  size_t added = 0;
  for (size_t i = 0; i < head.size() && added < bytes; ++added) {
    char c = head[i];
    if (digit(c)) {
      while (i < head.size() && digit(head[i])) ++i;
      add('#');
    } else if (c >= 'A' && c <= 'Z' && (i == 0 || !letter(head[i - 1]))) {
      while (i < head.size() && letter(head[i])) ++i;
      add('N');
    } else if (blank(c)) {
      while (i < head.size() && blank(head[i])) ++i;
      add(' ');
    } else {
      add(c);
      ++i;
    }
  }
  if (added < bytes) return std::nullopt;
  return hash;
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
  std::optional<uint64_t> key;
  if (config_.bulk_template_repeats > 0) {
    key = template_key(signals.prompt_head, static_cast<size_t>(config_.template_prefix_bytes));
  }
  if (rate_on || key) {
    const int64_t now = epoch_of(signals.now);
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               signals.now.time_since_epoch())
                               .count();
    std::lock_guard lock(mutex_);
    auto it = tenants_.find(signals.tenant);
    if (it == tenants_.end() && count) {
      it = tenants_.emplace(std::string(signals.tenant), Tenant{}).first;
    }
    if (it != tenants_.end()) {
      Window& window = it->second.window;
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
      if (key) {
        Tenant& tenant = it->second;
        for (const Seen& seen : tenant.templates) {
          if (seen.key == *key && seen.at_ms > now_ms - config_.window.count() &&
              seen.at_ms <= now_ms) {
            ++result.template_repeats;
          }
        }
        if (count) {
          if (tenant.templates.empty()) tenant.templates.resize(kTemplates);
          tenant.templates[tenant.next] = Seen{*key, now_ms};
          tenant.next = (tenant.next + 1) % kTemplates;
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
  } else if (key && result.template_repeats > config_.bulk_template_repeats) {
    result.volume = VolumeClass::bulk;
    result.reason = "template repeat: " + std::to_string(result.template_repeats) +
                    " earlier requests in " + window_ms + " ms start with the same " +
                    std::to_string(config_.template_prefix_bytes) +
                    "-byte template (bulk above " +
                    std::to_string(config_.bulk_template_repeats) + ")";
  } else {
    result.volume = VolumeClass::interactive;
    result.reason = declared ? "declared interactive" : "no bulk signal";
  }
  return result;
}

}  // namespace sy::policies
