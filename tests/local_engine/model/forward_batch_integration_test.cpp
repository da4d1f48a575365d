// LlamaCpu::forward_batch (prompt processing with the batched matmul) against token-by-token
// forward on tiny random models of every family, with F32 and Q8_0 weights and an F32 KV cache
// (and on stories260K with the default F16 cache).
// Both passes quantize the same activations and call the same dot kernels in the same order,
// so the stated bound, normalized MSE of the final logits < 1e-6, holds with room to spare.
// 150 tokens cross the 128-token chunk boundary; a batch that starts after tokens already in
// the cache checks the causal offsets.

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "local_engine/model/prompt_split_logits.h"
#include "local_engine/model/tiny_preset.h"
#include "local_engine/normalized_mse.h"
#include "runtime/llama_cpu.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/synthetic_model.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories =
    std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K/stories260K.gguf";

using testing::normalized_mse;
using testing::prompt_split_logits;
using testing::PromptSplitLogits;
using testing::tiny_preset;

class ForwardBatch : public ::testing::TestWithParam<std::string> {};

TEST_P(ForwardBatch, FinalLogitsEqualTokenByTokenForward) {
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  for (TensorType type : {TensorType::f32, TensorType::q8_0}) {
    const SyntheticPreset preset = tiny_preset(GetParam(), type != TensorType::f32, 3);
    auto path = std::filesystem::temp_directory_path() /
                ("sy_batch_" + preset.name + "_" + std::string(to_string(type)) + ".gguf");
    write_synthetic_model(preset, vocab, {.type = type, .seed = 11}, path);
    auto model = Model::load(path);
    const std::string what = GetParam() + " " + std::string(to_string(type));
    // 150 tokens: the whole prompt in one call is two chunks (128 + 22).
    const PromptSplitLogits l = prompt_split_logits(*model, 150);
    EXPECT_LT(normalized_mse(l.batched_last, l.token_by_token_last), 1e-6) << what;
    // A prefix, then the rest after a single forward: positions continue from the cache.
    EXPECT_LT(normalized_mse(l.pieces_mid, l.token_by_token_mid), 1e-6) << what << " prefix";
    EXPECT_LT(normalized_mse(l.pieces_last, l.token_by_token_last), 1e-6) << what << " rest";

    std::filesystem::remove(path);
  }
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, ForwardBatch,
                         ::testing::Values("llama", "qwen2", "qwen3", "gemma2", "gemma3"),
                         [](const auto& info) { return info.param; });

// generate() runs the prompt through forward_batch with the default F16 cache.
TEST(ForwardBatchF16Cache, FinalLogitsEqualTokenByTokenForwardOnStories) {
  auto model = Model::load(kStories);
  auto tokens = model->tokenizer().encode(
      "Once upon a time, there was a little girl named Lily. She loved to play outside.");
  ASSERT_GT(tokens.size(), 10u);
  LlamaCpu one_by_one(*model, 64), batched(*model, 64, 2);
  std::vector<float> want;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    auto logits = one_by_one.forward(tokens[pos], pos);
    want.assign(logits.begin(), logits.end());
  }
  EXPECT_LT(normalized_mse(batched.forward_batch(tokens, 0), want), 1e-6);
}

TEST(ForwardBatchLimits, RefusesEmptyBatchesBadTokensAndOverflowingTheCache) {
  auto model = Model::load(kStories);
  LlamaCpu cpu(*model, 8);
  EXPECT_THROW(cpu.forward_batch({}, 0), EngineError);
  std::vector<TokenId> tokens(9, 1);
  EXPECT_THROW(cpu.forward_batch(tokens, 0), EngineError);
  EXPECT_THROW(cpu.forward_batch(std::span(tokens).first(2), 7), EngineError);
  std::vector<TokenId> bad = {1, -1};
  EXPECT_THROW(cpu.forward_batch(bad, 0), EngineError);
}

}  // namespace
}  // namespace sy::engine
