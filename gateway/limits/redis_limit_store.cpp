// The Redis LimitStore (hiredis, synchronous, a small pool of connections). Each admit() and
// settle() is one EVALSHA of a Lua script: Redis runs a script atomically, so buckets and
// spends are read and written in one step that every replica sharing the Redis sees whole.
//
// Keys (all under the configured prefix, default "switchyard:"):
//   rate:<scope>:requests | rate:<scope>:tokens   a hash {u: level in units, t: ms}; expires
//                                                 when the bucket would be full again (a
//                                                 missing bucket is a full one)
//   budget:<scope>:<day|month>:<period number>    the period's spend in micro-dollars
//                                                 (INCRBY); expires two days after the period
// The scripts do token_bucket.h's integer arithmetic (exact in Lua's doubles at our sizes);
// the caller converts amounts to units, so the scripts never need to clamp.
//
// Failure handling: a call that cannot reach Redis (refused, timeout, I/O error) fails with
// upstream_unavailable and marks the store down for one second, during which calls fail at
// once instead of each waiting for a timeout on the request path. Only complete scripts run
// in Redis, so a failure never leaves half a step behind. Messages never carry the password.
// Redis Cluster is not supported (a script's keys would span slots).

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "limits/limit_store.h"
#include "limits/redis_url.h"

namespace sy::gateway {

namespace {

using backends::Error;
using backends::ErrorKind;

// KEYS: nb bucket keys, then ns spend keys.
// ARGV: now_ms, nb, ns; per bucket: limit, period_ms, units to take; per spend: block_at.
// Returns {verdict (0 admitted, 1 budget, 2 rate), index (1-based), levels..., spends...}.
constexpr char kAdmitScript[] = R"lua(
local now = tonumber(ARGV[1])
local nb = tonumber(ARGV[2])
local ns = tonumber(ARGV[3])
local verdict, index = 0, 0
local spends = {}
for i = 1, ns do
  local v = tonumber(redis.call('GET', KEYS[nb + i]) or '0')
  spends[i] = v
  local block = tonumber(ARGV[3 + 3 * nb + i])
  if verdict == 0 and block > 0 and v >= block then verdict, index = 1, i end
end
local levels, caps = {}, {}
for i = 1, nb do
  local limit = tonumber(ARGV[1 + 3 * i])
  local cap = limit * tonumber(ARGV[2 + 3 * i])
  local need = tonumber(ARGV[3 + 3 * i])
  local level = cap
  local stored = redis.call('HMGET', KEYS[i], 'u', 't')
  if stored[1] then
    level = math.min(cap, tonumber(stored[1]) + math.max(0, now - tonumber(stored[2])) * limit)
  end
  levels[i], caps[i] = level, cap
  if verdict == 0 and need > level then verdict, index = 2, i end
end
local out = {verdict, index}
for i = 1, nb do
  if verdict == 0 then
    local limit = tonumber(ARGV[1 + 3 * i])
    levels[i] = levels[i] - tonumber(ARGV[3 + 3 * i])
    redis.call('HSET', KEYS[i], 'u', string.format('%.0f', levels[i]), 't', string.format('%.0f', now))
    redis.call('PEXPIRE', KEYS[i], math.ceil((caps[i] - levels[i]) / limit) + 1000)
  end
  out[#out + 1] = levels[i]
end
for i = 1, ns do out[#out + 1] = spends[i] end
return out
)lua";

// KEYS: nb bucket keys, then ns spend keys.
// ARGV: now_ms, nb, ns; per bucket: limit, period_ms, units to take (negative: give back);
// per spend: micro-dollars to add, expire-at ms. Returns the spends' new totals.
constexpr char kSettleScript[] = R"lua(
local now = tonumber(ARGV[1])
local nb = tonumber(ARGV[2])
local ns = tonumber(ARGV[3])
for i = 1, nb do
  local limit = tonumber(ARGV[1 + 3 * i])
  local cap = limit * tonumber(ARGV[2 + 3 * i])
  local level = cap
  local stored = redis.call('HMGET', KEYS[i], 'u', 't')
  if stored[1] then
    level = math.min(cap, tonumber(stored[1]) + math.max(0, now - tonumber(stored[2])) * limit)
  end
  level = math.max(-cap, math.min(cap, level - tonumber(ARGV[3 + 3 * i])))
  redis.call('HSET', KEYS[i], 'u', string.format('%.0f', level), 't', string.format('%.0f', now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((cap - level) / limit) + 1000)
end
local out = {}
for i = 1, ns do
  local base = 3 + 3 * nb + 2 * (i - 1)
  out[i] = redis.call('INCRBY', KEYS[nb + i], ARGV[base + 1])
  redis.call('PEXPIREAT', KEYS[nb + i], ARGV[base + 2])
end
return out
)lua";

std::string sha1_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("limits: SHA-1 of a Redis script failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

Error unavailable(std::string message) {
  return Error{.kind = ErrorKind::upstream_unavailable, .message = std::move(message)};
}

timeval to_timeval(std::chrono::milliseconds ms) {
  return timeval{.tv_sec = static_cast<time_t>(ms.count() / 1000),
                 .tv_usec = static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
}

// Script arguments, kept as strings for redisCommandArgv.
class Command {
 public:
  void add(std::string_view text) { args_.emplace_back(text); }
  void add(int64_t value) { args_.push_back(std::to_string(value)); }
  ReplyPtr run(redisContext* c) const {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& a : args_) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    return ReplyPtr(static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  }
  std::string& at(size_t i) { return args_[i]; }

 private:
  std::vector<std::string> args_;
};

class RedisLimitStore final : public LimitStore {
 public:
  explicit RedisLimitStore(const LimitStoreConfig& config)
      : timeout_(config.redis_timeout), prefix_(config.key_prefix) {
    auto address = parse_redis_url(config.redis_url);
    if (!address) throw std::runtime_error("limits.redis_url " + address.error());
    address_ = std::move(*address);
  }

  backends::Result<AdmitOutcome> admit(std::span<const BucketTake> buckets,
                                       std::span<const SpendRead> spends, int64_t now_ms) override {
    Command cmd = script_command(kAdmitSha(), buckets, spends.size(), now_ms, [&](Command& c) {
      for (const SpendRead& s : spends) c.add(spend_key(s.key, s.period));
    });
    for (const BucketTake& b : buckets) {
      cmd.add(b.spec.limit);
      cmd.add(b.spec.period_ms);
      cmd.add(token_bucket::units_of(b.spec, b.amount));
    }
    for (const SpendRead& s : spends) cmd.add(s.block_at);
    auto reply = eval(cmd, kAdmitScript);
    if (!reply) return std::unexpected(reply.error());
    const redisReply& r = **reply;
    const size_t expected = 2 + buckets.size() + spends.size();
    if (r.type != REDIS_REPLY_ARRAY || r.elements != expected) {
      return std::unexpected(unavailable("limits store: unexpected reply to the admit script"));
    }
    for (size_t i = 0; i < r.elements; ++i) {
      if (r.element[i]->type != REDIS_REPLY_INTEGER) {
        return std::unexpected(unavailable("limits store: unexpected reply to the admit script"));
      }
    }
    AdmitOutcome out;
    const int64_t verdict = r.element[0]->integer;
    const int64_t index = r.element[1]->integer;
    out.verdict = verdict == 1   ? AdmitOutcome::Verdict::budget_exhausted
                  : verdict == 2 ? AdmitOutcome::Verdict::rate_limited
                                 : AdmitOutcome::Verdict::admitted;
    out.index = index > 0 ? static_cast<size_t>(index - 1) : 0;
    for (size_t i = 0; i < buckets.size(); ++i) {
      out.buckets.push_back(
          token_bucket::view(buckets[i].spec, r.element[2 + i]->integer, buckets[i].amount));
    }
    for (size_t i = 0; i < spends.size(); ++i) {
      out.spends.push_back(r.element[2 + buckets.size() + i]->integer);
    }
    return out;
  }

  backends::Result<std::vector<int64_t>> settle(std::span<const BucketTake> buckets,
                                                std::span<const SpendAdd> spends,
                                                int64_t now_ms) override {
    Command cmd = script_command(kSettleSha(), buckets, spends.size(), now_ms, [&](Command& c) {
      for (const SpendAdd& s : spends) c.add(spend_key(s.key, s.period));
    });
    for (const BucketTake& b : buckets) {
      cmd.add(b.spec.limit);
      cmd.add(b.spec.period_ms);
      cmd.add(token_bucket::units_of(b.spec, b.amount));
    }
    for (const SpendAdd& s : spends) {
      cmd.add(s.amount);
      cmd.add(s.expires_at_ms);
    }
    auto reply = eval(cmd, kSettleScript);
    if (!reply) return std::unexpected(reply.error());
    const redisReply& r = **reply;
    if (r.type != REDIS_REPLY_ARRAY || r.elements != spends.size()) {
      return std::unexpected(unavailable("limits store: unexpected reply to the settle script"));
    }
    std::vector<int64_t> totals;
    for (size_t i = 0; i < r.elements; ++i) {
      if (r.element[i]->type != REDIS_REPLY_INTEGER) {
        return std::unexpected(unavailable("limits store: unexpected reply to the settle script"));
      }
      totals.push_back(r.element[i]->integer);
    }
    return totals;
  }

  std::string_view name() const override { return "redis"; }

 private:
  static const std::string& kAdmitSha() {
    static const std::string sha = sha1_hex(kAdmitScript);
    return sha;
  }
  static const std::string& kSettleSha() {
    static const std::string sha = sha1_hex(kSettleScript);
    return sha;
  }

  std::string spend_key(std::string_view key, int64_t period) const {
    return prefix_ + std::string(key) + ":" + std::to_string(period);
  }

  // EVALSHA sha numkeys <bucket keys> <spend keys> now nb ns (the caller adds the rest).
  template <class AddSpendKeys>
  Command script_command(const std::string& sha, std::span<const BucketTake> buckets,
                         size_t n_spends, int64_t now_ms, AddSpendKeys&& add_spend_keys) const {
    Command cmd;
    cmd.add("EVALSHA");
    cmd.add(sha);
    cmd.add(static_cast<int64_t>(buckets.size() + n_spends));
    for (const BucketTake& b : buckets) cmd.add(prefix_ + std::string(b.key));
    add_spend_keys(cmd);
    cmd.add(now_ms);
    cmd.add(static_cast<int64_t>(buckets.size()));
    cmd.add(static_cast<int64_t>(n_spends));
    return cmd;
  }

  // Runs the EVALSHA; a Redis that does not know the script yet (new, restarted, flushed)
  // gets the EVAL with its text once, which also caches it.
  backends::Result<ReplyPtr> eval(Command& cmd, std::string_view script) {
    auto reply = call(cmd);
    if (!reply) return reply;
    if ((*reply)->type == REDIS_REPLY_ERROR &&
        std::string_view((*reply)->str, (*reply)->len).starts_with("NOSCRIPT")) {
      cmd.at(0) = "EVAL";
      cmd.at(1) = std::string(script);
      reply = call(cmd);
      if (!reply) return reply;
    }
    if ((*reply)->type == REDIS_REPLY_ERROR) {
      // A script error is ours (or a foreign value under our keys): say so without the key.
      return std::unexpected(
          unavailable("limits store: Redis refused the script: " +
                      std::string((*reply)->str, std::min<size_t>((*reply)->len, 200))));
    }
    return reply;
  }

  backends::Result<ReplyPtr> call(const Command& cmd) {
    const int64_t now = steady_ms();
    if (now < down_until_ms_.load(std::memory_order_relaxed)) {
      return std::unexpected(unavailable("limits store: Redis unreachable (retrying shortly)"));
    }
    auto context = acquire();
    if (!context) {
      down_until_ms_.store(now + kDownMs, std::memory_order_relaxed);
      return std::unexpected(context.error());
    }
    ReplyPtr reply = cmd.run(context->get());
    if (!reply) {
      // An I/O error or timeout: this connection's state is unknown, so it is dropped.
      std::string why = (*context)->errstr;
      down_until_ms_.store(steady_ms() + kDownMs, std::memory_order_relaxed);
      return std::unexpected(unavailable("limits store: Redis at " + where() + ": " + why));
    }
    release(std::move(*context));
    return reply;
  }

  backends::Result<ContextPtr> acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        ContextPtr c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    ContextPtr c(
        redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(timeout_)));
    if (!c) return std::unexpected(unavailable("limits store: cannot allocate a Redis context"));
    if (c->err) {
      return std::unexpected(
          unavailable("limits store: cannot connect to Redis at " + where() + ": " + c->errstr));
    }
    redisSetTimeout(c.get(), to_timeval(timeout_));
    if (!address_.password.empty()) {
      Command auth;
      auth.add("AUTH");
      if (!address_.user.empty()) auth.add(address_.user);
      auth.add(address_.password);
      ReplyPtr r = auth.run(c.get());
      if (!r || r->type == REDIS_REPLY_ERROR) {
        return std::unexpected(
            unavailable("limits store: Redis at " + where() + " refused the credentials"));
      }
    }
    if (address_.db != 0) {
      Command select;
      select.add("SELECT");
      select.add(static_cast<int64_t>(address_.db));
      ReplyPtr r = select.run(c.get());
      if (!r || r->type == REDIS_REPLY_ERROR) {
        return std::unexpected(unavailable("limits store: Redis at " + where() +
                                           " refused SELECT " + std::to_string(address_.db)));
      }
    }
    return c;
  }

  void release(ContextPtr c) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
  }

  std::string where() const { return address_.host + ":" + std::to_string(address_.port); }

  static int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  static constexpr int64_t kDownMs = 1000;
  static constexpr size_t kMaxIdle = 64;

  RedisAddress address_;
  std::chrono::milliseconds timeout_;
  std::string prefix_;
  std::mutex mutex_;
  std::vector<ContextPtr> idle_;
  std::atomic<int64_t> down_until_ms_{0};
};

}  // namespace

std::shared_ptr<LimitStore> make_redis_limit_store(const LimitStoreConfig& config) {
  return std::make_shared<RedisLimitStore>(config);
}

}  // namespace sy::gateway
