#include "../../../backends/http/circuit_breaker.h"

#include <gtest/gtest.h>

namespace sy::backends::http {
namespace {

using std::chrono::milliseconds;
using Admission = CircuitBreaker::Admission;
using State = CircuitBreaker::State;

CircuitBreaker make_breaker() {
  return CircuitBreaker(
      CircuitBreakerOptions{.failure_threshold = 3, .open_for = milliseconds(100)});
}

TEST(CircuitBreaker, StaysClosedBelowThreshold) {
  auto breaker = make_breaker();
  auto t0 = CircuitBreaker::Clock::time_point{};
  breaker.record_failure(t0);
  breaker.record_failure(t0);
  EXPECT_EQ(breaker.state(), State::closed);
  EXPECT_EQ(breaker.allow(t0), Admission::normal);
}

TEST(CircuitBreaker, SuccessResetsConsecutiveFailures) {
  auto breaker = make_breaker();
  auto t0 = CircuitBreaker::Clock::time_point{};
  breaker.record_failure(t0);
  breaker.record_failure(t0);
  breaker.record_success();
  breaker.record_failure(t0);
  breaker.record_failure(t0);
  EXPECT_EQ(breaker.state(), State::closed);
}

TEST(CircuitBreaker, OpensAfterThresholdAndRejectsUntilOpenForPasses) {
  auto breaker = make_breaker();
  auto t0 = CircuitBreaker::Clock::time_point{} + milliseconds(1000);
  for (int i = 0; i < 3; ++i) breaker.record_failure(t0);
  EXPECT_EQ(breaker.state(), State::open);
  EXPECT_EQ(breaker.allow(t0), Admission::rejected);
  EXPECT_EQ(breaker.allow(t0 + milliseconds(99)), Admission::rejected);
  EXPECT_EQ(breaker.allow(t0 + milliseconds(100)), Admission::probe);
  EXPECT_EQ(breaker.state(), State::half_open);
}

TEST(CircuitBreaker, LetsOnlyOneProbeThroughWhenHalfOpen) {
  auto breaker = make_breaker();
  auto t0 = CircuitBreaker::Clock::time_point{} + milliseconds(1000);
  for (int i = 0; i < 3; ++i) breaker.record_failure(t0);
  auto later = t0 + milliseconds(150);
  EXPECT_EQ(breaker.allow(later), Admission::probe);
  EXPECT_EQ(breaker.allow(later), Admission::rejected);
}

TEST(CircuitBreaker, ClosesWhenProbeSucceeds) {
  auto breaker = make_breaker();
  auto t0 = CircuitBreaker::Clock::time_point{} + milliseconds(1000);
  for (int i = 0; i < 3; ++i) breaker.record_failure(t0);
  ASSERT_EQ(breaker.allow(t0 + milliseconds(150)), Admission::probe);
  breaker.record_success();
  EXPECT_EQ(breaker.state(), State::closed);
  EXPECT_EQ(breaker.allow(t0 + milliseconds(150)), Admission::normal);
}

TEST(CircuitBreaker, ReopensWhenProbeFails) {
  auto breaker = make_breaker();
  auto t0 = CircuitBreaker::Clock::time_point{} + milliseconds(1000);
  for (int i = 0; i < 3; ++i) breaker.record_failure(t0);
  auto probe_time = t0 + milliseconds(150);
  ASSERT_EQ(breaker.allow(probe_time), Admission::probe);
  breaker.record_failure(probe_time);
  EXPECT_EQ(breaker.state(), State::open);
  EXPECT_EQ(breaker.allow(probe_time + milliseconds(50)), Admission::rejected);
  EXPECT_EQ(breaker.allow(probe_time + milliseconds(100)), Admission::probe);
}

TEST(CircuitBreaker, AbandonedProbeLetsAnotherProbeThrough) {
  auto breaker = make_breaker();
  auto t0 = CircuitBreaker::Clock::time_point{} + milliseconds(1000);
  for (int i = 0; i < 3; ++i) breaker.record_failure(t0);
  auto later = t0 + milliseconds(150);
  ASSERT_EQ(breaker.allow(later), Admission::probe);
  breaker.record_abandoned(Admission::probe);
  EXPECT_EQ(breaker.allow(later), Admission::probe);
}

TEST(CircuitBreaker, NeverOpensWhenThresholdIsZero) {
  CircuitBreaker breaker(
      CircuitBreakerOptions{.failure_threshold = 0, .open_for = milliseconds(100)});
  auto t0 = CircuitBreaker::Clock::time_point{};
  for (int i = 0; i < 10; ++i) breaker.record_failure(t0);
  EXPECT_EQ(breaker.allow(t0), Admission::normal);
}

}  // namespace
}  // namespace sy::backends::http
