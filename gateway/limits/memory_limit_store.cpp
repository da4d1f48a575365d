// The in-process LimitStore: every bucket and spend counter of this replica behind one mutex.
// Keys come from the config (a few per rule), so the maps stop growing after the first
// requests; lookups take the caller's string_view without allocating.

#include <array>
#include <mutex>
#include <string>
#include <unordered_map>

#include "limits/limit_store.h"

namespace sy::gateway {

namespace {

struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};

template <class T>
using KeyMap = std::unordered_map<std::string, T, KeyHash, std::equal_to<>>;

struct Bucket {
  int64_t units = 0;
  int64_t at_ms = 0;
};

// A budget's spend in its current period and the one before: a long exchange admitted in
// one period may settle after the next began, and still counts in the period it started.
struct Spend {
  struct Slot {
    int64_t period = -1;
    int64_t total = 0;
  };
  std::array<Slot, 2> slots;

  int64_t get(int64_t period) const {
    for (const Slot& s : slots) {
      if (s.period == period) return s.total;
    }
    return 0;
  }
  int64_t add(int64_t period, int64_t amount) {
    for (Slot& s : slots) {
      if (s.period == period) return s.total += amount;
    }
    Slot& oldest = slots[0].period < slots[1].period ? slots[0] : slots[1];
    if (oldest.period > period) return amount;  // older than both: nothing keeps it
    oldest = {period, amount};
    return amount;
  }
};

class MemoryLimitStore final : public LimitStore {
 public:
  backends::Result<AdmitOutcome> admit(std::span<const BucketTake> buckets,
                                       std::span<const SpendRead> spends, int64_t now_ms) override {
    AdmitOutcome out;
    out.buckets.resize(buckets.size());
    out.spends.resize(spends.size());
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < spends.size(); ++i) {
      auto it = spends_.find(spends[i].key);
      out.spends[i] = it == spends_.end() ? 0 : it->second.get(spends[i].period);
      if (out.verdict == AdmitOutcome::Verdict::admitted && spends[i].block_at > 0 &&
          out.spends[i] >= spends[i].block_at) {
        out.verdict = AdmitOutcome::Verdict::budget_exhausted;
        out.index = i;
      }
    }
    // Levels now; a bucket never seen is full.
    std::array<int64_t, kMaxBuckets> levels{};
    std::array<Bucket*, kMaxBuckets> stored{};
    const size_t n = std::min(buckets.size(), kMaxBuckets);
    for (size_t i = 0; i < n; ++i) {
      const BucketTake& b = buckets[i];
      auto it = buckets_.find(b.key);
      if (it == buckets_.end()) {
        it = buckets_.emplace(std::string(b.key), Bucket{b.spec.capacity(), now_ms}).first;
      }
      stored[i] = &it->second;
      levels[i] = token_bucket::refill(b.spec, it->second.units, it->second.at_ms, now_ms);
      if (out.verdict == AdmitOutcome::Verdict::admitted &&
          token_bucket::units_of(b.spec, b.amount) > levels[i]) {
        out.verdict = AdmitOutcome::Verdict::rate_limited;
        out.index = i;
      }
    }
    const bool take = out.verdict == AdmitOutcome::Verdict::admitted;
    for (size_t i = 0; i < n; ++i) {
      const BucketTake& b = buckets[i];
      out.buckets[i] = token_bucket::view(b.spec, levels[i], b.amount);
      if (take) {
        token_bucket::take(b.spec, levels[i], b.amount);
        *stored[i] = {levels[i], now_ms};
        out.buckets[i] = token_bucket::view(b.spec, levels[i], b.amount);
      }
    }
    return out;
  }

  backends::Result<std::vector<int64_t>> settle(std::span<const BucketTake> buckets,
                                                std::span<const SpendAdd> spends,
                                                int64_t now_ms) override {
    std::vector<int64_t> totals(spends.size());
    std::lock_guard lock(mutex_);
    for (const BucketTake& b : buckets) {
      auto it = buckets_.find(b.key);
      if (it == buckets_.end()) {  // a bucket never seen is full
        it = buckets_.emplace(std::string(b.key), Bucket{b.spec.capacity(), now_ms}).first;
      }
      int64_t level = token_bucket::refill(b.spec, it->second.units, it->second.at_ms, now_ms);
      token_bucket::adjust(b.spec, level, b.amount);
      it->second = {level, now_ms};
    }
    for (size_t i = 0; i < spends.size(); ++i) {
      auto it = spends_.find(spends[i].key);
      if (it == spends_.end()) it = spends_.emplace(std::string(spends[i].key), Spend{}).first;
      totals[i] = it->second.add(spends[i].period, spends[i].amount);
    }
    return totals;
  }

  std::string_view name() const override { return "memory"; }

 private:
  // A principal has at most a request and a token bucket for its tenant and for its key
  // (Limiter); more are ignored.
  static constexpr size_t kMaxBuckets = 8;

  std::mutex mutex_;
  KeyMap<Bucket> buckets_;
  KeyMap<Spend> spends_;
};

}  // namespace

std::shared_ptr<LimitStore> make_memory_limit_store() {
  return std::make_shared<MemoryLimitStore>();
}

}  // namespace sy::gateway
