#include "runtime/vector_exp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace sy::engine {
namespace {

float lane0(F32x4 v) { return v[0]; }

TEST(VectorExp, WithinFourUlpOfLibmOverTheWholeRange) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.001953125f * 3.7f) {
    const F32x4 got = exp4(F32x4{x, -x * 0.5f, x * 0.01f, 0.0f});
    for (int k = 0; k < 3; ++k) {
      const float in = k == 0 ? x : k == 1 ? -x * 0.5f : x * 0.01f;
      const double want = std::exp(double(in));
      const double rel = std::abs(got[k] - want) / want;
      worst = std::max(worst, rel);
    }
    EXPECT_EQ(got[3], 1.0f);
  }
  EXPECT_LT(worst, 4 * std::numeric_limits<float>::epsilon());
}

TEST(VectorExp, ClampsOutsideTheNormalRangeAndKeepsNaN) {
  EXPECT_EQ(lane0(exp4(splat4(-1000.0f))), lane0(exp4(splat4(-87.0f))));
  EXPECT_EQ(lane0(exp4(splat4(-INFINITY))), lane0(exp4(splat4(-87.0f))));
  EXPECT_GT(lane0(exp4(splat4(-87.0f))), 0.0f);
  EXPECT_LT(lane0(exp4(splat4(-87.0f))), 2e-38f);
  EXPECT_EQ(lane0(exp4(splat4(1000.0f))), lane0(exp4(splat4(88.0f))));
  EXPECT_TRUE(std::isfinite(lane0(exp4(splat4(INFINITY)))));
  EXPECT_TRUE(std::isnan(lane0(exp4(splat4(NAN)))));
}

TEST(VectorExp, EachLaneIsComputedAlone) {
  // The same value gives the same bits in every lane and beside any neighbours.
  const float x = -3.21f;
  const float alone = lane0(exp4(splat4(x)));
  const F32x4 mixed = exp4(F32x4{100.0f, x, NAN, -500.0f});
  EXPECT_EQ(mixed[1], alone);
  const F32x4 others = exp4(F32x4{0.5f, -0.5f, 7.0f, x});
  EXPECT_EQ(others[3], alone);
}

}  // namespace
}  // namespace sy::engine
