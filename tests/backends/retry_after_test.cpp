#include <gtest/gtest.h>

#include "switchyard/backends/http_types.h"

namespace sy::backends {
namespace {

TEST(ParseRetryAfter, ReadsSecondsAndMilliseconds) {
  EXPECT_EQ(parse_retry_after({{"retry-after", "2"}}), std::chrono::milliseconds(2000));
  EXPECT_EQ(parse_retry_after({{"retry-after", "0.5"}}), std::chrono::milliseconds(500));
  EXPECT_EQ(parse_retry_after({{"retry-after-ms", "150"}, {"retry-after", "9"}}),
            std::chrono::milliseconds(150));
}

TEST(ParseRetryAfter, IgnoresGarbageAndAbsence) {
  EXPECT_EQ(parse_retry_after({}), std::nullopt);
  EXPECT_EQ(parse_retry_after({{"retry-after", "soon"}}), std::nullopt);
  EXPECT_EQ(parse_retry_after({{"retry-after", "-3"}}), std::nullopt);
}

TEST(ParseRetryAfter, ReadsHttpDateInThePastAsZero) {
  EXPECT_EQ(parse_retry_after({{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}),
            std::chrono::milliseconds(0));
}

}  // namespace
}  // namespace sy::backends
