#pragma once
// Where budget and rate-limit state lives, behind one interface with two implementations:
//   - in-process (make_memory_limit_store): one mutex, no allocation on the hot path; state is
//     this replica's own;
//   - Redis (make_redis_limit_store, hiredis): each call is one Lua script (EVALSHA), so one
//     atomic round trip that several gateway replicas share correctly.
//
// State is named by keys the caller builds once (Limiter): a bucket key per rate limit, a
// spend key per budget plus the period's number (a new period is a new counter). Times are
// Unix milliseconds passed in by the caller, so both stores run on the same (injectable) clock.
//
// Thread-safe. Errors (the Redis store only: unreachable, timeout, unexpected reply) are
// upstream_unavailable with a message that names no secret; the caller decides what a missing
// answer means (limiter.h).

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "limits/token_bucket.h"
#include "switchyard/backends/error.h"
#include "switchyard/gateway/limits_config.h"

namespace sy::gateway {

struct BucketTake {
  std::string_view key;
  BucketSpec spec;
  int64_t amount = 0;  // admit: tokens to take; settle: more to take (negative = give back)
};

struct SpendRead {
  std::string_view key;
  int64_t period = 0;    // the period's number (days or months since 1970)
  int64_t block_at = 0;  // > 0: refuse admission once the spend has reached it
};

struct SpendAdd {
  std::string_view key;
  int64_t period = 0;
  int64_t expires_at_ms = 0;  // when the counter may be forgotten (after its period ends)
  int64_t amount = 0;         // micro-dollars
};

struct AdmitOutcome {
  enum class Verdict { admitted, budget_exhausted, rate_limited };
  Verdict verdict = Verdict::admitted;
  size_t index = 0;                 // the spend or bucket that refused
  std::vector<BucketView> buckets;  // each bucket after the step (taken from when admitted)
  std::vector<int64_t> spends;      // each period's spend so far, micro-dollars
};

class LimitStore {
 public:
  virtual ~LimitStore() = default;

  // One atomic step: reads every spend; when one has reached its block_at, takes nothing
  // (budget_exhausted, index = that spend). Otherwise takes each bucket's amount when every
  // bucket holds it, else from none (rate_limited, index = the first short bucket).
  virtual backends::Result<AdmitOutcome> admit(std::span<const BucketTake> buckets,
                                               std::span<const SpendRead> spends,
                                               int64_t now_ms) = 0;

  // One atomic step: corrects every bucket by its amount (token_bucket::adjust) and adds to
  // every spend; returns each spend's new total.
  virtual backends::Result<std::vector<int64_t>> settle(std::span<const BucketTake> buckets,
                                                        std::span<const SpendAdd> spends,
                                                        int64_t now_ms) = 0;

  virtual std::string_view name() const = 0;  // "memory" or "redis" (logs)
};

std::shared_ptr<LimitStore> make_memory_limit_store();

// Connects lazily (the first call) and reconnects after failures; never throws after
// construction. Throws std::runtime_error at construction when the URL is malformed.
std::shared_ptr<LimitStore> make_redis_limit_store(const LimitStoreConfig& config);

}  // namespace sy::gateway
