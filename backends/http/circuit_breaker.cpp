#include "circuit_breaker.h"

namespace sy::backends::http {

CircuitBreaker::Admission CircuitBreaker::allow(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  switch (state_) {
    case State::closed:
      return Admission::normal;
    case State::open:
      if (now - opened_at_ < options_.open_for) return Admission::rejected;
      state_ = State::half_open;
      probe_in_flight_ = true;
      return Admission::probe;
    case State::half_open:
      if (probe_in_flight_) return Admission::rejected;
      probe_in_flight_ = true;
      return Admission::probe;
  }
  return Admission::rejected;
}

void CircuitBreaker::record_success() {
  std::lock_guard lock(mutex_);
  state_ = State::closed;
  consecutive_failures_ = 0;
  probe_in_flight_ = false;
}

void CircuitBreaker::record_failure(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (options_.failure_threshold <= 0) return;  // breaking disabled
  switch (state_) {
    case State::closed:
      if (++consecutive_failures_ >= options_.failure_threshold) {
        state_ = State::open;
        opened_at_ = now;
      }
      break;
    case State::half_open:
      state_ = State::open;
      opened_at_ = now;
      probe_in_flight_ = false;
      break;
    case State::open:
      break;  // a call admitted before the circuit opened; the open period stands
  }
}

void CircuitBreaker::record_abandoned(Admission admission) {
  std::lock_guard lock(mutex_);
  if (admission == Admission::probe && state_ == State::half_open) probe_in_flight_ = false;
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

bool CircuitBreaker::admits(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  switch (state_) {
    case State::closed:
      return true;
    case State::open:
      return now - opened_at_ >= options_.open_for;
    case State::half_open:
      return !probe_in_flight_;
  }
  return true;
}

}  // namespace sy::backends::http
