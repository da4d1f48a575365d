// scale_max of every kernel set against the generic set, bit for bit; softmax_exp of every
// kernel set against the generic set (std::exp): within 4 float ulps
// element by element (relative 5e-7 where the result is a normal float), sums within 1e-5, on
// awkward lengths (not multiples of 8 or 16), the full range of exp's arguments, and the special
// values (-inf gives 0, NaN stays NaN, huge gives inf).

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "local_engine/kernels/kernel_test_support.h"

namespace sy::engine::kernels {
namespace {

constexpr size_t kLengths[] = {1, 7, 8, 15, 16, 17, 33, 64, 100, 1000, 49157};
constexpr float kElementBound = 5e-7f;  // relative, normal results

// Scores as attention produces them: a spread of a few tens around the maximum.
std::vector<float> scores(std::mt19937& rng, size_t n) {
  return testing::random_floats(rng, n, 8.0f);
}

void expect_close(float got, float want, const char* what, size_t i) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << what << " at " << i;
    return;
  }
  if (std::fabs(want) < std::numeric_limits<float>::min()) {
    EXPECT_LE(std::fabs(got), std::numeric_limits<float>::min()) << what << " at " << i;
    return;
  }
  EXPECT_LE(std::fabs(got - want), kElementBound * std::fabs(want))
      << what << " at " << i << ": " << got << " vs " << want;
}

TEST(ExpKernels, SoftmaxExpMatchesGenericWithinBound) {
  std::mt19937 rng(7);
  for (const CpuKernels* set : testing::optimized_sets()) {
    for (size_t n : kLengths) {
      std::vector<float> want = scores(rng, n);
      float max = -INFINITY;
      for (float v : want) max = std::max(max, v);
      std::vector<float> got = want;
      const float want_sum = generic_cpu_kernels().softmax_exp(want.data(), n, max);
      const float got_sum = set->softmax_exp(got.data(), n, max);
      for (size_t i = 0; i < n; ++i) expect_close(got[i], want[i], set->isa.data(), i);
      // Both sums against the exact sum of the generic exponentials: the generic's in-order float
      // sum drifts too (4e-6 relative over 49k terms), the lanes less.
      double exact = 0;
      for (float v : want) exact += v;
      EXPECT_NEAR(want_sum, exact, 1e-5 * exact) << "generic n=" << n;
      EXPECT_NEAR(got_sum, exact, 1e-5 * exact) << set->isa << " n=" << n;
    }
  }
}

TEST(ExpKernels, ScaleMaxMatchesGenericExactly) {
  // Every product is one float multiply, so each set's scaled scores and maximum equal the
  // generic's bit for bit, whatever the length; NaN never wins (as in std::max), -inf scores
  // stay -inf, and no scores give -inf.
  std::mt19937 rng(11);
  for (const CpuKernels* set : testing::optimized_sets()) {
    EXPECT_EQ(set->scale_max(nullptr, 0, 0.125f), -INFINITY) << set->isa;
    for (size_t n : kLengths) {
      for (int special = 0; special < 3; ++special) {
        std::vector<float> want = scores(rng, n);
        if (special == 1) want[n / 2] = std::numeric_limits<float>::quiet_NaN();
        if (special == 2) want[n - 1] = -INFINITY;
        std::vector<float> got = want;
        const float want_max = generic_cpu_kernels().scale_max(want.data(), n, 0.125f);
        const float got_max = set->scale_max(got.data(), n, 0.125f);
        EXPECT_EQ(got_max, want_max) << set->isa << " n=" << n << " special=" << special;
        EXPECT_FALSE(std::isnan(got_max)) << set->isa << " n=" << n;
        for (size_t i = 0; i < n; ++i) {
          if (std::isnan(want[i])) {
            EXPECT_TRUE(std::isnan(got[i])) << set->isa << " at " << i;
          } else {
            EXPECT_EQ(got[i], want[i]) << set->isa << " n=" << n << " at " << i;
          }
        }
      }
    }
  }
  std::vector<float> all_nan(5, std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(generic_cpu_kernels().scale_max(all_nan.data(), all_nan.size(), 2.0f), -INFINITY);
}

TEST(ExpKernels, ExponentialsCoverTheRangeAndSpecialValues) {
  // Every argument from -110 to 88 in small steps, then the special values, through softmax_exp
  // with max 0 (so x[i] is exp's argument).
  std::vector<float> in;
  for (float v = -110.0f; v <= 88.0f; v += 0.0137f) in.push_back(v);
  const size_t finite = in.size();
  in.push_back(-INFINITY);
  in.push_back(std::numeric_limits<float>::quiet_NaN());
  in.push_back(0.0f);
  in.push_back(-0.0f);
  for (const CpuKernels* set : testing::optimized_sets()) {
    std::vector<float> want = in, got = in;
    generic_cpu_kernels().softmax_exp(want.data(), finite, 0.0f);
    set->softmax_exp(got.data(), finite, 0.0f);
    for (size_t i = 0; i < finite; ++i) expect_close(got[i], want[i], set->isa.data(), i);
    std::vector<float> special(in.begin() + finite, in.end());
    set->softmax_exp(special.data(), special.size(), 0.0f);
    EXPECT_EQ(special[0], 0.0f) << set->isa << ": exp(-inf)";
    EXPECT_TRUE(std::isnan(special[1])) << set->isa << ": exp(NaN)";
    EXPECT_EQ(special[2], 1.0f) << set->isa << ": exp(0)";
    EXPECT_EQ(special[3], 1.0f) << set->isa << ": exp(-0)";
  }
}

}  // namespace
}  // namespace sy::engine::kernels
