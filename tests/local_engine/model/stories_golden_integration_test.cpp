// End-to-end golden test: stories260K, greedy from BOS, must reproduce the text llama2.c's `run`
// documents (../shared/models/README.md) token for token, from both file formats.

#include <gtest/gtest.h>

#include <filesystem>

#include "switchyard/local_engine/generate.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories = std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K";

constexpr std::string_view kGolden =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n"
    "Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. "
    "She said, \"I want to play with your ball, but I can't find it.\"";

GenerateResult greedy(const Model& model, size_t n) {
  GenerateOptions options;
  options.max_tokens = n;
  return generate(model, "", options);
}

TEST(StoriesGolden, GgufGreedyFromBosReproducesLlama2cOutput) {
  auto model = Model::load(kStories / "stories260K.gguf");
  auto result = greedy(*model, 200);
  EXPECT_EQ(result.prompt_tokens, std::vector<TokenId>{1});
  ASSERT_GE(result.text.size(), kGolden.size()) << result.text;
  EXPECT_EQ(result.text.substr(0, kGolden.size()), kGolden);
}

TEST(StoriesGolden, Llama2cCheckpointGreedyReproducesTheSameTokens) {
  auto bin = Model::load(kStories / "stories260K.bin", kStories / "tok512.bin");
  auto gguf = Model::load(kStories / "stories260K.gguf");
  auto a = greedy(*bin, 200);
  EXPECT_EQ(a.text.substr(0, kGolden.size()), kGolden);
  EXPECT_EQ(a.tokens, greedy(*gguf, 200).tokens);
}

TEST(StoriesGolden, StreamedTextEqualsTheReturnedText) {
  auto model = Model::load(kStories / "stories260K.gguf");
  std::string streamed;
  GenerateOptions options;
  options.max_tokens = 60;
  auto result = generate(*model, "Once upon a time", options, [&](std::string_view chunk) {
    streamed += chunk;
    return true;
  });
  EXPECT_EQ(streamed, result.text);
  EXPECT_EQ(result.tokens.size(), 60u);
  EXPECT_EQ(result.finish, FinishReason::length);
}

}  // namespace
}  // namespace sy::engine

namespace sy::engine {
namespace {

TEST(Generate, StopsBeforeAStopStringAndNeverStreamsIt) {
  auto model = Model::load(kStories / "stories260K.gguf");
  GenerateOptions options;
  options.max_tokens = 100;
  options.stop = {"Lily", "no such text"};
  std::string streamed;
  auto result = generate(*model, "", options, [&](std::string_view chunk) {
    streamed += chunk;
    return true;
  });
  EXPECT_EQ(result.text, "Once upon a time, there was a little girl named ");
  EXPECT_EQ(streamed, result.text);
  EXPECT_EQ(result.finish, FinishReason::stop);
}

TEST(Generate, ReportsLogProbabilitiesOfChosenTokens) {
  auto model = Model::load(kStories / "stories260K.gguf");
  GenerateOptions options;
  options.max_tokens = 30;
  auto result = generate(*model, "", options);
  ASSERT_EQ(result.logprobs.size(), result.tokens.size());
  for (float lp : result.logprobs) {
    EXPECT_LE(lp, 0.0f);
    EXPECT_GT(lp, -20.0f);
  }
}

TEST(Generate, CallerCanStopTheStream) {
  auto model = Model::load(kStories / "stories260K.gguf");
  GenerateOptions options;
  options.max_tokens = 100;
  int calls = 0;
  auto result = generate(*model, "", options, [&](std::string_view) { return ++calls < 3; });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(result.finish, FinishReason::stop);
  EXPECT_LT(result.tokens.size(), 10u);
}

}  // namespace
}  // namespace sy::engine
