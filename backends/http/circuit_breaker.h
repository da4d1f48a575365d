#pragma once
// A per-backend circuit breaker: closed -> open after `failure_threshold` consecutive
// retryable failures -> after `open_for`, one probe call is let through (half-open) ->
// closed when the probe succeeds, open again when it fails. Thread-safe; time is passed in
// so tests need no clock.

#include <chrono>
#include <mutex>

#include "switchyard/backends/http_backend.h"

namespace sy::backends::http {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { closed, open, half_open };
  // What allow() granted: a normal call, the one probe of a half-open circuit, or nothing.
  enum class Admission { rejected, normal, probe };

  explicit CircuitBreaker(CircuitBreakerOptions options) : options_(options) {}

  Admission allow(Clock::time_point now);
  // The admitted call reached the backend and got an answer that proves it serves (success,
  // or an error that is the caller's, such as a 400).
  void record_success();
  // The admitted call failed in a way that says the backend cannot serve now.
  void record_failure(Clock::time_point now);
  // The admitted call ended without a verdict (cancelled): a probe slot is given back.
  void record_abandoned(Admission admission);

  State state() const;
  // Whether allow(now) could admit a call (closed, or open long enough for a probe).
  bool admits(Clock::time_point now) const;

 private:
  CircuitBreakerOptions options_;
  mutable std::mutex mutex_;
  State state_ = State::closed;
  int consecutive_failures_ = 0;
  Clock::time_point opened_at_{};
  bool probe_in_flight_ = false;
};

}  // namespace sy::backends::http
