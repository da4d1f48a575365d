#pragma once
// The series of one label set: label values -> a Slot of atomics, created on first use.
//
// The request path calls at() with string_views: a hash of the values and a lookup under a
// shared (reader) lock, then atomic adds on the returned slot — no allocation and no
// formatting once a series exists. Only the first request of a new label combination takes
// the exclusive lock and copies the strings. Slots never move or die while the map lives, so a
// returned reference stays valid.
//
// Cardinality is bounded: past `max_series` label combinations, new combinations all land in
// one overflow series whose every label is "_overflow" (and overflowed() counts them), so a
// client that invents model names cannot grow the scrape without bound.

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sy::gateway::metrics {

inline constexpr std::string_view kOverflowLabel = "_overflow";

template <class Slot, size_t N>
class SeriesMap {
 public:
  using Values = std::array<std::string_view, N>;
  using Key = std::array<std::string, N>;

  explicit SeriesMap(size_t max_series = 10'000) : max_series_(max_series) {}

  Slot& at(const Values& values) {
    {
      std::shared_lock lock(mutex_);
      if (auto it = map_.find(values); it != map_.end()) return *it->second;
    }
    std::unique_lock lock(mutex_);
    if (auto it = map_.find(values); it != map_.end()) return *it->second;
    if (map_.size() >= max_series_) {
      overflowed_.fetch_add(1, std::memory_order_relaxed);
      Values overflow;
      overflow.fill(kOverflowLabel);
      if (auto it = map_.find(overflow); it != map_.end()) return *it->second;
      return insert(overflow);
    }
    return insert(values);
  }

  // Calls f(const Key& labels, const Slot& slot) for every series, in label order (the scrape
  // is stable from one call to the next). Holds the reader lock meanwhile: keep f short.
  template <class F>
  void for_each(F&& f) const {
    std::vector<std::pair<const Key*, const Slot*>> sorted;
    std::shared_lock lock(mutex_);
    sorted.reserve(map_.size());
    for (const auto& [key, slot] : map_) sorted.emplace_back(&key, slot.get());
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return *a.first < *b.first; });
    for (const auto& [key, slot] : sorted) f(*key, *slot);
  }

  size_t size() const {
    std::shared_lock lock(mutex_);
    return map_.size();
  }
  // Label combinations that landed in the overflow series.
  uint64_t overflowed() const { return overflowed_.load(std::memory_order_relaxed); }

 private:
  // Hashes std::array<std::string, N> and std::array<std::string_view, N> alike, so lookups
  // need no key built (heterogeneous lookup).
  struct Hash {
    using is_transparent = void;
    template <class A>
    size_t operator()(const A& values) const {
      size_t h = 1469598103934665603ull;
      for (const auto& v : values) {
        h ^= std::hash<std::string_view>{}(std::string_view(v)) + 0x9e3779b97f4a7c15ull + (h << 6) +
             (h >> 2);
      }
      return h;
    }
  };
  struct Equal {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      for (size_t i = 0; i < N; ++i) {
        if (std::string_view(a[i]) != std::string_view(b[i])) return false;
      }
      return true;
    }
  };

  Slot& insert(const Values& values) {
    Key key;
    for (size_t i = 0; i < N; ++i) key[i] = std::string(values[i]);
    auto [it, inserted] = map_.emplace(std::move(key), std::make_unique<Slot>());
    return *it->second;
  }

  const size_t max_series_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<Key, std::unique_ptr<Slot>, Hash, Equal> map_;
  std::atomic<uint64_t> overflowed_{0};
};

}  // namespace sy::gateway::metrics
