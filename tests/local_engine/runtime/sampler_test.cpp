#include "switchyard/local_engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

namespace sy::engine {
namespace {

TEST(Sampler, GreedyPicksTheLowestIdAmongEqualMaxima) {
  Sampler s({});
  std::vector<float> logits = {0.1f, 3.0f, -1.0f, 3.0f};
  EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, GreedyAgreesWithMaxElementOnLongVectors) {
  // Lengths around the vector width, ties, NaNs, infinities and signed zeros.
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> pick(0, 9);
  for (size_t n : {1, 7, 8, 9, 16, 17, 100, 49152}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> logits(n);
      for (float& l : logits) {
        const int k = pick(rng);
        l = k == 0 ? NAN : k == 1 ? -INFINITY : k == 2 ? -0.0f : k == 3 ? 0.0f : float(k % 5);
      }
      if (trial == 0) logits[0] = NAN;
      const auto want = std::max_element(logits.begin(), logits.end()) - logits.begin();
      Sampler s({});
      EXPECT_EQ(s.sample(logits), want) << n << " " << trial;
    }
  }
}

// log softmax in double precision with libm's exp: what log_softmax approximates.
double reference_log_sum(const std::vector<float>& logits, float max) {
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  return std::log(sum);
}

TEST(LogSoftmax, MatchesDoublePrecisionOnEveryLengthAndSpread) {
  std::mt19937 rng(11);
  for (size_t n : {1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 100, 1000, 49152, 151936}) {
    for (float spread : {0.01f, 3.0f, 30.0f, 300.0f}) {
      std::normal_distribution<float> normal(-2.0f, spread);
      std::vector<float> logits(n);
      for (float& l : logits) l = normal(rng);
      const LogSoftmax s = log_softmax(logits);
      const float max = *std::max_element(logits.begin(), logits.end());
      EXPECT_EQ(s.max, max);
      const double want = reference_log_sum(logits, max);
      EXPECT_NEAR(s.log_sum, want, 2e-6 * std::max(1.0, want)) << n << " " << spread;
      for (size_t t : {size_t{0}, n / 2, n - 1}) {
        const double exact = logits[t] - max - want;
        EXPECT_NEAR(s.at(logits, static_cast<TokenId>(t)), exact, 1e-5 * std::max(1.0, -exact));
        const auto id = static_cast<TokenId>(t);
        EXPECT_EQ(token_logprob(logits, id), s.at(logits, id));
      }
    }
  }
}

TEST(LogSoftmax, HandlesInfinitiesTiesAndHugeGaps) {
  std::vector<float> logits(1000, -INFINITY);
  logits[700] = 5.0f;
  EXPECT_EQ(token_logprob(logits, 700), 0.0f);  // every other token has probability 0
  EXPECT_EQ(token_logprob(logits, 3), -INFINITY);
  std::vector<float> ties(77, 1.5f);
  EXPECT_NEAR(token_logprob(ties, 40), -std::log(77.0), 1e-6);
  std::vector<float> gap = {0.0f, -1e30f, -200.0f, 10.0f};
  EXPECT_NEAR(token_logprob(gap, 0), -10.0f - std::log1p(std::exp(-10.0)), 1e-6);
  EXPECT_NEAR(token_logprob(gap, 3), -std::log1p(std::exp(-10.0)), 1e-6);
  EXPECT_LT(token_logprob(gap, 1), -1e29f);
}

TEST(Sampler, SameSeedGivesTheSameSequence) {
  std::vector<float> logits = {1.0f, 1.1f, 0.9f, 1.05f, 0.2f};
  SamplerOptions o{.temperature = 1.0f, .seed = 42};
  Sampler a(o), b(o);
  std::vector<TokenId> sa, sb;
  for (int i = 0; i < 50; ++i) {
    sa.push_back(a.sample(logits));
    sb.push_back(b.sample(logits));
  }
  EXPECT_EQ(sa, sb);
  Sampler c({.temperature = 1.0f, .seed = 43});
  std::vector<TokenId> sc;
  for (int i = 0; i < 50; ++i) sc.push_back(c.sample(logits));
  EXPECT_NE(sa, sc);
}

TEST(Sampler, TopKOfOneIsGreedy) {
  std::vector<float> logits = {0.5f, 0.4f, 2.0f, 1.9f};
  Sampler s({.temperature = 5.0f, .top_k = 1, .seed = 7});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(logits), 2);
}

TEST(Sampler, TopPKeepsOnlyTheNucleus) {
  // Probabilities ~ 0.64, 0.24, 0.09, 0.03: top_p 0.8 keeps the first two only.
  std::vector<float> logits = {3.0f, 2.0f, 1.0f, 0.0f};
  Sampler s({.temperature = 1.0f, .top_p = 0.8f, .seed = 1});
  std::map<TokenId, int> seen;
  for (int i = 0; i < 2000; ++i) ++seen[s.sample(logits)];
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_GT(seen[0], seen[1]);
}

TEST(Sampler, TemperatureSamplingFollowsTheSoftmax) {
  std::vector<float> logits = {0.0f, std::log(3.0f)};  // p = 0.25, 0.75
  Sampler s({.temperature = 1.0f, .seed = 9});
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += s.sample(logits) == 1;
  EXPECT_NEAR(static_cast<double>(ones) / n, 0.75, 0.02);
}

}  // namespace
}  // namespace sy::engine

namespace sy::engine {
namespace {

TEST(Sampler, RepetitionPenaltyMovesGreedyOffARepeatedToken) {
  std::vector<float> logits = {2.0f, 1.9f, 0.0f};
  std::vector<TokenId> history = {0, 0};
  EXPECT_EQ(Sampler({}).sample(logits, history), 0);
  EXPECT_EQ(Sampler({.repetition_penalty = 1.1f}).sample(logits, history), 1);
  EXPECT_EQ(Sampler({.frequency_penalty = 0.06f}).sample(logits, history), 1);
  EXPECT_EQ(Sampler({.presence_penalty = 0.2f}).sample(logits, history), 1);
  // Only the last penalty_last_n tokens count.
  std::vector<TokenId> old = {0, 2, 2, 2};
  EXPECT_EQ(Sampler({.repetition_penalty = 1.1f, .penalty_last_n = 3}).sample(logits, old), 0);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  // p ~ 0.71, 0.26, 0.03: min_p 0.1 keeps the first two only.
  std::vector<float> logits = {3.0f, 2.0f, 0.0f};
  Sampler s({.temperature = 1.0f, .min_p = 0.1f, .seed = 3});
  for (int i = 0; i < 2000; ++i) EXPECT_NE(s.sample(logits), 2);
}

}  // namespace
}  // namespace sy::engine
