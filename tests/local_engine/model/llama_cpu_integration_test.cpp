// The CPU pass (kernels over the mapped weights) against the reference pass on the same model.
// Stated bounds, normalized MSE of the logits at every position (F32 KV cache unless stated):
//   F32 weights: 1e-8 (only summation order differs);
//   F32 weights, F16 KV cache (the default): 1e-5;
//   Q8_0 / Q4_0 weights: 1e-3 (the CPU pass quantizes activations to Q8_0; the reference uses
//   the same dequantized weights with F32 activations).

#include <gtest/gtest.h>

#include <filesystem>

#include "local_engine/normalized_mse.h"
#include "reference/llama_reference.h"
#include "runtime/llama_cpu.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/generate.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/quantize.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories = std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K";

using sy::engine::testing::normalized_mse;

void expect_cpu_matches_reference(const Model& model, double bound,
                                  KvCacheType kv = KvCacheType::f32) {
  LlamaCpu cpu(model, 64, 1, kv);
  LlamaReference reference(model, 64);
  auto tokens = model.tokenizer().encode(
      "Once upon a time, there was a little girl named Lily. She loved to play outside.");
  ASSERT_GT(tokens.size(), 10u);
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    auto a = cpu.forward(tokens[pos], pos);
    auto b = reference.forward(tokens[pos], pos);
    EXPECT_LT(normalized_mse(a, b), bound) << "pos " << pos;
  }
}

TEST(LlamaCpu, MatchesReferenceOnF32Weights) {
  auto model = Model::load(kStories / "stories260K.gguf");
  expect_cpu_matches_reference(*model, 1e-8);
}

TEST(LlamaCpu, MatchesReferenceWithTheDefaultF16KvCache) {
  auto model = Model::load(kStories / "stories260K.gguf");
  expect_cpu_matches_reference(*model, 1e-5, KvCacheType::f16);
}

TEST(LlamaCpu, MatchesReferenceOnQuantizedWeights) {
  for (TensorType type : {TensorType::q8_0, TensorType::q4_0}) {
    auto path = std::filesystem::temp_directory_path() /
                ("sy_cpu_" + std::string(to_string(type)) + ".gguf");
    quantize_gguf(kStories / "stories260K.gguf", path, {.type = type});
    auto model = Model::load(path);
    expect_cpu_matches_reference(*model, 1e-3);
    std::filesystem::remove(path);
  }
}

TEST(LlamaCpu, GreedyTokensEqualTheReferencePass) {
  auto model = Model::load(kStories / "stories260K.gguf");
  GenerateOptions options;
  options.max_tokens = 150;
  auto cpu = generate(*model, "", options);
  options.use_reference = true;
  EXPECT_EQ(cpu.tokens, generate(*model, "", options).tokens);
}

TEST(LlamaCpu, RefusesModelsWithoutAMappedFile) {
  auto model = Model::load(kStories / "stories260K.bin", kStories / "tok512.bin");
  EXPECT_THROW(LlamaCpu(*model, 8), EngineError);
}

}  // namespace
}  // namespace sy::engine

namespace sy::engine {
namespace {

TEST(LlamaCpu, GenerateOnGgufNeverMakesTheF32Copy) {
  auto model = Model::load(kStories / "stories260K.gguf");
  GenerateOptions options;
  options.max_tokens = 10;
  generate(*model, "Once", options);
  EXPECT_FALSE(model->f32_weights_loaded());
  options.use_reference = true;
  generate(*model, "Once", options);
  EXPECT_TRUE(model->f32_weights_loaded());
}

}  // namespace
}  // namespace sy::engine

namespace sy::engine {
namespace {

TEST(LlamaCpu, ThreadCountDoesNotChangeTheLogits) {
  auto model = Model::load(kStories / "stories260K.gguf");
  LlamaCpu one(*model, 32, 1), three(*model, 32, 3);
  auto tokens = model->tokenizer().encode("Lily saw a big dog.");
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    auto a = one.forward(tokens[pos], pos);
    std::vector<float> a_copy(a.begin(), a.end());
    auto b = three.forward(tokens[pos], pos);
    EXPECT_EQ(a_copy, std::vector<float>(b.begin(), b.end())) << "pos " << pos;
  }
}

TEST(LlamaCpu, AttentionRunsGiveTheSameLogitsWhateverTheSplit) {
  // Past several 64-position attention runs: one thread attends each (token, KV head) whole;
  // three threads share a decode step's runs as separate units; a prompt pass attends whole
  // pairs in parallel. All three must agree bit for bit at every position.
  auto model = Model::load(kStories / "stories260K.gguf");
  const size_t n = 150;
  std::vector<TokenId> tokens;
  const auto text = model->tokenizer().encode("Lily saw a big dog. The dog was happy and ran.");
  while (tokens.size() < n) tokens.push_back(text[tokens.size() % text.size()]);
  LlamaCpu one(*model, n, 1), three(*model, n, 3), batch(*model, n, 3);
  for (size_t pos = 0; pos < n; ++pos) {
    auto a = one.forward(tokens[pos], pos);
    std::vector<float> a_copy(a.begin(), a.end());
    auto b = three.forward(tokens[pos], pos);
    ASSERT_EQ(a_copy, std::vector<float>(b.begin(), b.end())) << "pos " << pos;
    if (pos == n - 1) {
      auto c = batch.forward_batch(tokens, 0);
      EXPECT_EQ(a_copy, std::vector<float>(c.begin(), c.end()));
    }
  }
}

}  // namespace
}  // namespace sy::engine
