// generate()'s own timings on stories260K: what each phase counts, and that the caller's
// streaming callback is kept out of them.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "switchyard/local_engine/generate.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories = std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K";

TEST(GenerateTimings, CountsOneForwardPerPromptTokenAndPerFedBackToken) {
  auto model = Model::load(kStories / "stories260K.gguf");
  GenerateOptions options;
  options.max_tokens = 24;
  options.ignore_eos = true;
  options.threads = 1;
  auto result = generate(*model, "Once upon a time, there was a dog", options);
  const GenerateTimings& t = result.timings;
  ASSERT_EQ(result.tokens.size(), 24u);
  EXPECT_EQ(t.prompt_forwards, result.prompt_tokens.size());
  // The first token comes from the prompt's logits and the last is never fed back.
  EXPECT_EQ(t.generation_forwards, 23u);
  EXPECT_GT(t.prompt_seconds, 0.0);
  EXPECT_GT(t.generation_seconds, 0.0);
  EXPECT_GE(t.tokenize_seconds, 0.0);
  EXPECT_DOUBLE_EQ(t.prompt_tokens_per_second(), t.prompt_forwards / t.prompt_seconds);
  EXPECT_DOUBLE_EQ(t.generation_tokens_per_second(), 23 / t.generation_seconds);
}

TEST(GenerateTimings, OneTokenHasNoGenerationForwards) {
  auto model = Model::load(kStories / "stories260K.gguf");
  GenerateOptions options;
  options.max_tokens = 1;
  options.ignore_eos = true;
  auto result = generate(*model, "Once", options);
  EXPECT_EQ(result.timings.generation_forwards, 0u);
  EXPECT_EQ(result.timings.generation_tokens_per_second(), 0.0);
  EXPECT_GT(result.timings.prompt_tokens_per_second(), 0.0);
}

TEST(GenerateTimings, LeavesTheCallersStreamingTimeOut) {
  auto model = Model::load(kStories / "stories260K.gguf");
  GenerateOptions options;
  options.max_tokens = 20;
  options.ignore_eos = true;
  options.threads = 1;
  using Clock = std::chrono::steady_clock;
  Clock::duration slept{};
  const auto started = Clock::now();
  auto result = generate(*model, "Once upon a time", options, [&](std::string_view) {
    const auto before = Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    slept += Clock::now() - before;
    return true;
  });
  const double wall = std::chrono::duration<double>(Clock::now() - started).count();
  const double callback = std::chrono::duration<double>(slept).count();
  ASSERT_GT(callback, 0.0);
  // Had the callback's time been counted, the phases would add up to more than the rest.
  EXPECT_LE(result.timings.tokenize_seconds + result.timings.prompt_seconds +
                result.timings.generation_seconds,
            wall - callback);
}

}  // namespace
}  // namespace sy::engine
