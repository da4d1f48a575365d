#include "limits/token_bucket.h"

#include <gtest/gtest.h>

#include <limits>

#include "limits/limiter.h"

namespace sy::gateway {
namespace {

const BucketSpec kTenPerMinute{.limit = 10, .period_ms = 60'000};

TEST(TokenBucket, RefillsOneTokenPerPeriodOverLimitAndStopsWhenFull) {
  const int64_t empty = 0;
  EXPECT_EQ(token_bucket::refill(kTenPerMinute, empty, 0, 5'999), 5'999 * 10);
  EXPECT_EQ(token_bucket::refill(kTenPerMinute, empty, 0, 6'000) / 60'000, 1);  // one token
  EXPECT_EQ(token_bucket::refill(kTenPerMinute, empty, 0, 60'000), kTenPerMinute.capacity());
  EXPECT_EQ(token_bucket::refill(kTenPerMinute, empty, 0, 3'600'000), kTenPerMinute.capacity());
  // A clock that went backwards refills nothing; centuries of idleness do not overflow.
  EXPECT_EQ(token_bucket::refill(kTenPerMinute, 42, 1'000, 500), 42);
  const BucketSpec huge{.limit = 1'000'000'000, .period_ms = 60'000};
  EXPECT_EQ(token_bucket::refill(huge, 0, 0, std::numeric_limits<int64_t>::max() / 2),
            huge.capacity());
}

TEST(TokenBucket, TakesOnlyWhatItHoldsAndSaysWhenTheRestArrives) {
  int64_t level = kTenPerMinute.capacity();
  EXPECT_TRUE(token_bucket::take(kTenPerMinute, level, 7));
  EXPECT_FALSE(token_bucket::take(kTenPerMinute, level, 4));
  EXPECT_EQ(level, 3 * 60'000);  // unchanged by the refusal
  const BucketView v = token_bucket::view(kTenPerMinute, level, 4);
  EXPECT_EQ(v.limit, 10);
  EXPECT_EQ(v.remaining, 3);
  EXPECT_EQ(v.retry_after_ms, 6'000);  // one token takes 6 s at 10/min
  EXPECT_EQ(v.reset_ms, 42'000);       // seven tokens to full
  // More than a whole period's worth can never fit.
  EXPECT_EQ(token_bucket::view(kTenPerMinute, level, 11).retry_after_ms, -1);
  EXPECT_EQ(
      token_bucket::view(kTenPerMinute, level, std::numeric_limits<int64_t>::max()).retry_after_ms,
      -1);
}

TEST(TokenBucket, AdjustRunsIntoDebtAndRefundsWithinCapacity) {
  int64_t level = 2 * 60'000;
  token_bucket::adjust(kTenPerMinute, level, 5);  // used 5 more than admitted
  EXPECT_EQ(level, -3 * 60'000);
  EXPECT_EQ(token_bucket::view(kTenPerMinute, level, 1).remaining, 0);
  EXPECT_EQ(token_bucket::view(kTenPerMinute, level, 1).retry_after_ms, 24'000);
  token_bucket::adjust(kTenPerMinute, level, -100);  // a refund never overfills
  EXPECT_EQ(level, kTenPerMinute.capacity());
  token_bucket::adjust(kTenPerMinute, level, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(level, -kTenPerMinute.capacity());
}

TEST(LimitFormats, ResetDurationsAreOpenAIStyleAndDollarsKeepTwoDecimals) {
  EXPECT_EQ(format_reset(0), "0ms");
  EXPECT_EQ(format_reset(120), "120ms");
  EXPECT_EQ(format_reset(1'000), "1s");
  EXPECT_EQ(format_reset(6'500), "6.5s");
  EXPECT_EQ(format_reset(60'000), "1m0s");
  EXPECT_EQ(format_reset(90'250), "1m30.25s");
  EXPECT_EQ(format_dollars(1'500'000), "$1.50");
  EXPECT_EQ(format_dollars(125), "$0.000125");
  EXPECT_EQ(format_dollars(0), "$0.00");
  EXPECT_EQ(format_dollars(-2'000'000), "-$2.00");
}

}  // namespace
}  // namespace sy::gateway
