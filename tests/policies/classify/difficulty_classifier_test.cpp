// DifficultyClassifier: the features each request shape produces, the logistic score and its
// per-feature contributions, thresholds, and bounded cost on hostile input.

#include "switchyard/policies/classify/difficulty_classifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "switchyard/backends/openai_json.h"

namespace sy::policies {
namespace {

backends::ChatRequest parse(const std::string& body) {
  auto request = backends::openai::parse_chat_request(body);
  EXPECT_TRUE(request) << request.error().message;
  return *request;
}

backends::ChatRequest user(const std::string& text) {
  backends::ChatRequest r;
  r.model = "m";
  backends::Message m;
  m.content.push_back({.text = text});
  r.messages.push_back(std::move(m));
  return r;
}

double feature(const DifficultyVector& f, DifficultyFeature which) {
  return f[static_cast<size_t>(which)];
}

// One weight set where each feature's effect is easy to see.
DifficultyConfig unit_config() {
  DifficultyConfig c;
  c.bias = -2;
  c.weights.fill(0);
  c.weights[static_cast<size_t>(DifficultyFeature::math_cues)] = 1;
  c.weights[static_cast<size_t>(DifficultyFeature::reasoning_cues)] = 1;
  c.weights[static_cast<size_t>(DifficultyFeature::code_cues)] = 1;
  c.medium_threshold = 0.3;
  c.hard_threshold = 0.6;
  return c;
}

TEST(DifficultyFeatures, CountsCuesOfEachKind) {
  const DifficultyVector plain = extract_difficulty_features(user("Say hello to my friend."));
  EXPECT_EQ(feature(plain, DifficultyFeature::math_cues), 0);
  EXPECT_EQ(feature(plain, DifficultyFeature::reasoning_cues), 0);
  EXPECT_EQ(feature(plain, DifficultyFeature::code_cues), 0);
  EXPECT_EQ(feature(plain, DifficultyFeature::questions), 0);

  const DifficultyVector maths =
      extract_difficulty_features(user("Solve 3 * 4 + x^2 = 20 and compute the integral."));
  // solve, compute, integral + operators next to digits (*, +, ^, =).
  EXPECT_NEAR(feature(maths, DifficultyFeature::math_cues), std::log1p(3.0 + 4.0), 1e-9);
  EXPECT_NEAR(feature(maths, DifficultyFeature::numbers), std::log1p(4.0), 1e-9);

  const DifficultyVector reasoning = extract_difficulty_features(
      user("Explain step by step why this is most likely true. Prove it?"));
  // explain, why, likely (a word cue), prove; "step by" is a bigram cue; "most likely" too.
  EXPECT_GE(feature(reasoning, DifficultyFeature::reasoning_cues), std::log1p(5.0));
  EXPECT_NEAR(feature(reasoning, DifficultyFeature::questions), std::log1p(1.0), 1e-9);

  const DifficultyVector code =
      extract_difficulty_features(user("Implement this function in Python:\n```\nx = {1};\n```"));
  EXPECT_GE(feature(code, DifficultyFeature::code_cues), std::log1p(3.0 + 6.0));

  const DifficultyVector constrained = extract_difficulty_features(
      user("Answer in exactly 3 bullet points, at least one must cite a source. Not more."));
  EXPECT_GE(feature(constrained, DifficultyFeature::constraint_cues), std::log1p(4.0));
  EXPECT_GE(feature(constrained, DifficultyFeature::negation_cues), std::log1p(1.0));
}

TEST(DifficultyFeatures, ReadsTurnsSystemToolsFormatAndMaxTokens) {
  const auto request = parse(R"({
    "model": "m", "max_tokens": 4095,
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": "first question"},
      {"role": "assistant", "content": "first answer"},
      {"role": "user", "content": "second question"},
      {"role": "user", "content": "third question with five words"}],
    "tools": [{"type": "function", "function": {"name": "a"}},
              {"type": "function", "function": {"name": "b"}}],
    "response_format": {"type": "json_object"}})");
  const DifficultyVector f = extract_difficulty_features(request);
  EXPECT_NEAR(feature(f, DifficultyFeature::turns), std::log1p(2.0), 1e-9);
  EXPECT_EQ(feature(f, DifficultyFeature::system_prompt), 1.0);
  EXPECT_NEAR(feature(f, DifficultyFeature::tools), std::log1p(2.0), 1e-9);
  EXPECT_EQ(feature(f, DifficultyFeature::structured_output), 1.0);
  EXPECT_NEAR(feature(f, DifficultyFeature::max_tokens), std::log(4096.0), 1e-9);
  EXPECT_NEAR(feature(f, DifficultyFeature::log_words_last), std::log1p(5.0), 1e-9);
  const size_t chars = std::string(
                           "You are terse.first questionfirst answersecond question"
                           "third question with five words")
                           .size();
  EXPECT_NEAR(feature(f, DifficultyFeature::log_chars), std::log1p(double(chars)), 1e-9);
}

TEST(DifficultyFeatures, LegacyPromptCountsAsTheLastUserMessage) {
  backends::ChatRequest r;
  r.model = "m";
  r.prompt = "why is the sky blue";
  const DifficultyVector f = extract_difficulty_features(r);
  EXPECT_NEAR(feature(f, DifficultyFeature::log_words_last), std::log1p(5.0), 1e-9);
  EXPECT_NEAR(feature(f, DifficultyFeature::reasoning_cues), std::log1p(1.0), 1e-9);
}

TEST(DifficultyFeatures, CountsAnswerChoicesAtLineStarts) {
  const DifficultyVector four = extract_difficulty_features(
      user("Which is a mammal?\nA) trout\nB) whale\n  (C) shark\nD. frog\nAnswer:"));
  EXPECT_NEAR(feature(four, DifficultyFeature::options), std::log1p(4.0), 1e-9);
  // A capital letter inside a line, a word at a line start, or "A)" with no space after it is
  // not a choice; a prompt that starts with a choice counts it.
  const DifficultyVector none = extract_difficulty_features(
      user("Plan A) is risky.\nAlso B)\nExplain why."));
  EXPECT_EQ(feature(none, DifficultyFeature::options), 0);
  const DifficultyVector first = extract_difficulty_features(user("A) yes\nB) no"));
  EXPECT_NEAR(feature(first, DifficultyFeature::options), std::log1p(2.0), 1e-9);
}

TEST(DifficultyFeatures, NonAsciiShareIsALanguageSignal) {
  const DifficultyVector english = extract_difficulty_features(user("plain english text"));
  const DifficultyVector greek = extract_difficulty_features(user("καλημέρα κόσμε"));
  EXPECT_EQ(feature(english, DifficultyFeature::non_ascii), 0);
  EXPECT_GT(feature(greek, DifficultyFeature::non_ascii), 0.8);
}

TEST(DifficultyClassifier, ScoreIsTheLogisticOfBiasPlusContributions) {
  const DifficultyClassifier classifier(unit_config());
  const DifficultyResult r =
      classifier.classify(user("Explain why 2 + 2 = 4, then implement it in Python."));
  double logit = unit_config().bias;
  for (const auto& c : r.contributions) logit += c.contribution;
  EXPECT_NEAR(r.logit, logit, 1e-12);
  EXPECT_NEAR(r.score, 1 / (1 + std::exp(-logit)), 1e-12);
  ASSERT_EQ(r.contributions.size(), kDifficultyFeatureCount);
  for (size_t i = 1; i < r.contributions.size(); ++i) {
    EXPECT_GE(std::abs(r.contributions[i - 1].contribution),
              std::abs(r.contributions[i].contribution));
  }
  for (const auto& c : r.contributions) {
    EXPECT_NEAR(c.contribution, unit_config().weights[static_cast<size_t>(c.feature)] * c.value,
                1e-12);
  }
}

TEST(DifficultyClassifier, ThresholdsSplitEasyMediumHard) {
  const DifficultyClassifier classifier(unit_config());
  EXPECT_EQ(classifier.classify(user("hello there")).difficulty, DifficultyClass::easy);
  // One maths cue: logit -2 + log(2) = -1.31, score 0.21: easy.
  // Three kinds: -2 + 3 log(2) = 0.08, score 0.52: medium.
  EXPECT_EQ(classifier.classify(user("solve, explain, python")).difficulty,
            DifficultyClass::medium);
  EXPECT_EQ(classifier
                .classify(user("Solve the integral step by step, explain why and prove it, then "
                               "implement the algorithm as a Python function."))
                .difficulty,
            DifficultyClass::hard);
}

TEST(DifficultyClassifier, ShippedDefaultsAreSaneProbabilities) {
  const DifficultyConfig defaults = DifficultyConfig::defaults();
  EXPECT_LE(defaults.medium_threshold, defaults.hard_threshold);
  EXPECT_GT(defaults.medium_threshold, 0);
  EXPECT_LT(defaults.hard_threshold, 1);
  const DifficultyClassifier classifier;
  const DifficultyResult r = classifier.classify(user("hi"));
  EXPECT_GE(r.score, 0);
  EXPECT_LE(r.score, 1);
}

TEST(DifficultyClassifier, MegabytePromptCostsNoMoreThanItsScannedPrefix) {
  std::string huge;
  while (huge.size() < (1 << 20)) huge += "why solve 12 * 7 = 84 in python? ";
  const DifficultyClassifier classifier(unit_config());
  const auto start = std::chrono::steady_clock::now();
  const DifficultyResult r = classifier.classify(user(huge));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.contributions.size(), kDifficultyFeatureCount);
  EXPECT_LT(elapsed, std::chrono::milliseconds(200));
  // Cues come from the first kCueScanBytes only; the length counts everything.
  const DifficultyVector f = extract_difficulty_features(user(huge));
  const DifficultyVector prefix = extract_difficulty_features(user(huge.substr(0, kCueScanBytes)));
  EXPECT_NEAR(feature(f, DifficultyFeature::log_chars), std::log1p(double(huge.size())), 1e-9);
  EXPECT_EQ(feature(f, DifficultyFeature::math_cues),
            feature(prefix, DifficultyFeature::math_cues));
  EXPECT_GT(feature(f, DifficultyFeature::log_words_last),
            feature(prefix, DifficultyFeature::log_words_last) + 2);  // estimated beyond the scan
}

TEST(DifficultyClassifier, InvalidUtf8AndLongWordsAreHarmless) {
  std::string text = "\xff\xfe\xc3 ";
  text += std::string(5000, 'a');  // one enormous "word"
  text += " why";
  const DifficultyVector f = extract_difficulty_features(user(text));
  EXPECT_NEAR(feature(f, DifficultyFeature::reasoning_cues), std::log1p(1.0), 1e-9);
  EXPECT_GT(feature(f, DifficultyFeature::non_ascii), 0);
}

TEST(DifficultyClass, ParsesAndPrintsItsNames) {
  for (auto c : {DifficultyClass::easy, DifficultyClass::medium, DifficultyClass::hard}) {
    EXPECT_EQ(parse_difficulty_class(to_string(c)), c);
  }
  EXPECT_FALSE(parse_difficulty_class("Hard"));
  for (size_t i = 0; i < kDifficultyFeatureCount; ++i) {
    EXPECT_EQ(parse_difficulty_feature(kDifficultyFeatureNames[i]),
              static_cast<DifficultyFeature>(i));
  }
  EXPECT_FALSE(parse_difficulty_feature("length"));
}

}  // namespace
}  // namespace sy::policies
