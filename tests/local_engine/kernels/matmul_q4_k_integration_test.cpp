// The engine's prefill through the tiled Q4_K matmul: on a small synthetic Q4_K llama model
// (widths 512 and 768, i.e. 2 and 3 super-blocks, so the odd-tail pair is used too), the logits
// of forward_batch equal those of token-by-token forward BIT FOR BIT, as the batch-invariance
// contract requires (mirrors tests/local_engine/model/forward_batch_integration_test.cpp, where
// the tiny presets are too narrow for K-quants).

#include <gtest/gtest.h>

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "local_engine/model/prompt_split_logits.h"
#include "local_engine/model/tiny_preset.h"
#include "runtime/llama_cpu.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/synthetic_model.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories =
    std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K/stories260K.gguf";

void expect_bits_equal(std::span<const float> got, std::span<const float> want,
                       const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t differ = 0;
  for (size_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
  EXPECT_EQ(differ, 0u) << what << ": " << differ << " of " << got.size() << " logits differ";
}

TEST(MatmulQ4KEngine, PrefillLogitsEqualTokenByTokenForwardBitForBit) {
  SyntheticPreset preset = testing::tiny_preset("llama", true, 2);
  preset.name = "q4k-llama";
  ModelConfig& c = preset.config;
  c.dim = 512;
  c.n_heads = 8;
  c.n_kv_heads = 2;
  c.head_dim = 64;
  c.rope_dim = 64;
  c.ffn_dim = 768;
  const auto path = std::filesystem::temp_directory_path() / "sy_matmul_q4_k_llama.gguf";
  const auto report = write_synthetic_model(preset, vocabulary_from_gguf(*GgufFile::open(kStories)),
                                            {.type = TensorType::q4_k, .seed = 5}, path);
  EXPECT_EQ(report.fell_back, 0u);
  auto model = Model::load(path);

  const testing::PromptSplitLogits l = testing::prompt_split_logits(*model, 37);
  expect_bits_equal(l.batched_last, l.token_by_token_last, "whole prompt, 2 threads");
  expect_bits_equal(l.pieces_mid, l.token_by_token_mid, "prefix");
  expect_bits_equal(l.pieces_last, l.token_by_token_last, "rest");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sy::engine
