#pragma once
// Token-bucket arithmetic, exact in integers. A bucket of `limit` tokens per `period_ms` keeps
// its level in units of 1/period_ms token: one token is period_ms units, it refills `limit`
// units per millisecond and holds at most limit * period_ms units (a full minute's worth).
// No division or float drifts, and the Redis store's Lua script (redis_limit_store.cpp) does
// the same arithmetic on the same numbers (exact in Lua's doubles below 2^53: limit <= 1e9 and
// period 60 000 ms give at most 6e13).
//
// A level may go below zero (down to -capacity) when a settlement finds a request used more
// tokens than it was admitted for: the debt is paid back by refill before the next admission.

#include <algorithm>
#include <cstdint>

namespace sy::gateway {

struct BucketSpec {
  int64_t limit = 0;  // tokens (or requests) per period
  int64_t period_ms = 60'000;
  int64_t capacity() const { return limit * period_ms; }
};

// What a bucket looks like to a client (the x-ratelimit-* headers).
struct BucketView {
  int64_t limit = 0;
  int64_t remaining = 0;       // whole tokens left now (never negative)
  int64_t reset_ms = 0;        // until the bucket is full again
  int64_t retry_after_ms = 0;  // until `amount` would fit; -1 = never (amount > limit)
};

namespace token_bucket {

// The level at `now_ms` of a bucket stored as `units` at `at_ms` (a clock that went backwards
// refills nothing).
inline int64_t refill(const BucketSpec& spec, int64_t units, int64_t at_ms, int64_t now_ms) {
  const int64_t elapsed = std::max<int64_t>(0, now_ms - at_ms);
  const int64_t room = spec.capacity() - units;
  if (room <= 0) return spec.capacity();
  // elapsed * limit may overflow after ~300 years of idleness at 1e9/min; compare first.
  return elapsed >= (room + spec.limit - 1) / spec.limit ? spec.capacity()
                                                         : units + elapsed * spec.limit;
}

// A request amount as units, clamped so that a huge amount cannot overflow: anything above the
// limit can never be admitted anyway.
inline int64_t units_of(const BucketSpec& spec, int64_t amount) {
  return std::clamp<int64_t>(amount, -2 * spec.limit - 1, 2 * spec.limit + 1) * spec.period_ms;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

inline BucketView view(const BucketSpec& spec, int64_t level, int64_t amount) {
  BucketView v{.limit = spec.limit,
               .remaining = std::max<int64_t>(0, level) / spec.period_ms,
               .reset_ms = ceil_div(spec.capacity() - level, spec.limit)};
  const int64_t need = units_of(spec, amount);
  v.retry_after_ms = need > spec.capacity() ? -1 : ceil_div(need - level, spec.limit);
  return v;
}

// Takes `amount` from `level` when it holds it: true and `level` lowered, else unchanged.
inline bool take(const BucketSpec& spec, int64_t& level, int64_t amount) {
  const int64_t need = units_of(spec, amount);
  if (need > level) return false;
  level -= need;
  return true;
}

// A settlement's correction: `amount` more tokens (negative = given back), level kept within
// [-capacity, capacity].
inline void adjust(const BucketSpec& spec, int64_t& level, int64_t amount) {
  level = std::clamp<int64_t>(level - units_of(spec, amount), -spec.capacity(), spec.capacity());
}

}  // namespace token_bucket
}  // namespace sy::gateway
