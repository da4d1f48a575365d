// silu_mul of every kernel set that has one against the formula in double with std::exp: within
// 1e-6 relative where the result is a normal float, on awkward lengths (not multiples of 16),
// the full range of FFN gate values and the special values; and the same bits however a row is
// split into calls (the batch invariance LlamaCpu relies on).

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "local_engine/kernels/kernel_test_support.h"

namespace sy::engine::kernels {
namespace {

constexpr size_t kLengths[] = {1, 7, 15, 16, 17, 33, 100, 1536, 1541};

float want_silu_mul(float g, float u) {
  const double gd = g;
  return static_cast<float>(gd / (1.0 + std::exp(-gd)) * u);
}

void expect_close(float got, float want, std::string_view isa, size_t i) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << isa << " at " << i;
    return;
  }
  if (std::fabs(want) < std::numeric_limits<float>::min()) {
    EXPECT_LE(std::fabs(got), std::numeric_limits<float>::min()) << isa << " at " << i;
    return;
  }
  EXPECT_LE(std::fabs(got - want), 1e-6f * std::fabs(want))
      << isa << " at " << i << ": " << got << " vs " << want;
}

TEST(SiluKernels, SiluMulMatchesTheFormulaWithinBound) {
  std::mt19937 rng(11);
  size_t sets = 0;
  for (const CpuKernels* set : testing::optimized_sets()) {
    if (set->silu_mul == nullptr) continue;
    ++sets;
    for (size_t n : kLengths) {
      std::vector<float> gate = testing::random_floats(rng, n, 12.0f);
      const std::vector<float> up = testing::random_floats(rng, n, 2.0f);
      std::vector<float> got = gate;
      set->silu_mul(got.data(), up.data(), n);
      for (size_t i = 0; i < n; ++i)
        expect_close(got[i], want_silu_mul(gate[i], up[i]), set->isa, i);
    }
  }
  if (sets == 0) GTEST_SKIP() << "no kernel set on this machine has silu_mul";
}

TEST(SiluKernels, SpecialValuesAndExtremes) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> gate = {0.0f,   -0.0f,  1e-30f,  -1e-30f, 20.0f,  -20.0f,        90.0f,
                                   -90.0f, 200.0f, -200.0f, 1e30f,   -1e30f, std::nanf(""), -inf};
  const std::vector<float> up(gate.size(), 1.5f);
  for (const CpuKernels* set : testing::optimized_sets()) {
    if (set->silu_mul == nullptr) continue;
    std::vector<float> got = gate;
    set->silu_mul(got.data(), up.data(), got.size());
    for (size_t i = 0; i < gate.size(); ++i) {
      expect_close(got[i], want_silu_mul(gate[i], up[i]), set->isa, i);
    }
  }
}

TEST(SiluKernels, SplittingARowChangesNoBit) {
  std::mt19937 rng(5);
  const size_t n = 1541;
  const std::vector<float> gate = testing::random_floats(rng, n, 8.0f);
  const std::vector<float> up = testing::random_floats(rng, n, 2.0f);
  for (const CpuKernels* set : testing::optimized_sets()) {
    if (set->silu_mul == nullptr) continue;
    std::vector<float> whole = gate;
    set->silu_mul(whole.data(), up.data(), n);
    for (size_t cut : {size_t{1}, size_t{5}, size_t{16}, size_t{771}, n - 3}) {
      std::vector<float> split = gate;
      set->silu_mul(split.data(), up.data(), cut);
      set->silu_mul(split.data() + cut, up.data() + cut, n - cut);
      EXPECT_EQ(split, whole) << set->isa << " cut at " << cut;
    }
  }
}

}  // namespace
}  // namespace sy::engine::kernels
