// LlamaCuda against LlamaCpu, whole models (label gpu; skips without a CUDA device).
// stories260K (F32): the same 40 greedy tokens. Tiny synthetic models of every family in F32
// and Q8_0 (F16 KV caches on both sides): the logits after a 150-token prompt (two 128-token
// chunks) and after 5 decoded tokens within normalized MSE 1e-4; a three-sequence serving step
// likewise, and partial offloads. The GPU keeps activations in F32 where the CPU quantizes them to
// Q8_0, hence a bound looser than the CPU tests' 1e-6.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "local_engine/model/tiny_preset.h"
#include "local_engine/normalized_mse.h"
#include "runtime/llama_cpu.h"
#include "runtime/llama_cuda.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/synthetic_model.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories =
    std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K/stories260K.gguf";

TokenId argmax(std::span<const float> logits) {
  return static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

class LlamaCudaModel : public ::testing::Test {
 protected:
  void SetUp() override {
    const CudaDeviceSummary device = describe_cuda_device();
    if (!device.found) GTEST_SKIP() << "no GPU, CUDA model test not run: " << device.text;
  }
};

TEST_F(LlamaCudaModel, Stories260KGreedyTokensEqualCpu) {
  auto model = Model::load(kStories);
  constexpr size_t kSteps = 40;
  LlamaCpu cpu(*model, kSteps + 8, 1);
  LlamaCuda gpu(*model, kSteps + 8);
  const std::vector<TokenId> prompt = {1, 403, 407, 261, 378};
  TokenId cpu_next = argmax(cpu.forward_batch(prompt, 0));
  TokenId gpu_next = argmax(gpu.forward_batch(prompt, 0));
  for (size_t pos = prompt.size(); pos < prompt.size() + kSteps; ++pos) {
    ASSERT_EQ(gpu_next, cpu_next) << "at position " << pos;
    cpu_next = argmax(cpu.forward(cpu_next, pos));
    gpu_next = argmax(gpu.forward(gpu_next, pos));
  }
}

// Serving shape: three sequences of different lengths in one step over a shared paged cache
// (blocks of 8, the step cut into chunks of 32 rows), then a decode step of all three.
TEST_F(LlamaCudaModel, ForwardStepOfThreeSequencesMatchesCpu) {
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  const SyntheticPreset preset = testing::tiny_preset("qwen2", true, 3);
  auto path = std::filesystem::temp_directory_path() / "sy_cuda_step_qwen2_q8_0.gguf";
  write_synthetic_model(preset, vocab, {.type = TensorType::q8_0, .seed = 17}, path);
  auto model = Model::load(path);
  const KvCacheOptions options{.block_tokens = 8, .max_blocks = 32, .type = KvCacheType::f16};
  KvCache cpu_cache(model->config(), options), gpu_cache(model->config(), options);
  LlamaCpu cpu(*model, cpu_cache, 32, 1);
  LlamaCuda gpu(*model, gpu_cache, 32, 128);
  const size_t lengths[] = {20, 37, 5};
  std::vector<std::vector<TokenId>> prompts;
  KvSequence cpu_seqs[3], gpu_seqs[3];
  for (size_t s = 0; s < 3; ++s) {
    std::vector<TokenId> p(lengths[s]);
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<TokenId>((i * 37 + s * 101 + 3) % 603);
    prompts.push_back(p);
    // The same reservations in the same order: the same block ids on both sides.
    ASSERT_TRUE(cpu_cache.reserve(cpu_seqs[s], lengths[s] + 1));
    ASSERT_TRUE(gpu_cache.reserve(gpu_seqs[s], lengths[s] + 1));
    ASSERT_EQ(cpu_seqs[s].blocks, gpu_seqs[s].blocks);
  }
  auto compare = [&](auto make, const char* what) {
    std::vector<BatchSequence> cpu_batch, gpu_batch;
    for (size_t s = 0; s < 3; ++s) {
      cpu_batch.push_back(make(s, &cpu_seqs[s]));
      gpu_batch.push_back(make(s, &gpu_seqs[s]));
    }
    auto want = cpu.forward_step(cpu_batch);
    const std::vector<float> want_copy(want.begin(), want.end());
    auto got = gpu.forward_step(gpu_batch);
    ASSERT_EQ(got.size(), want_copy.size());
    const size_t v = model->config().n_vocab;
    for (size_t s = 0; s < 3; ++s) {
      EXPECT_LT(
          testing::normalized_mse(got.subspan(s * v, v), std::span(want_copy).subspan(s * v, v)),
          1e-4)
          << what << " sequence " << s;
    }
  };
  compare(
      [&](size_t s, KvSequence* kv) {
        return BatchSequence{prompts[s], 0, kv, true};
      },
      "prefill");
  std::vector<TokenId> next = {5, 6, 7};
  compare(
      [&](size_t s, KvSequence* kv) {
        return BatchSequence{std::span(&next[s], 1), lengths[s], kv, true};
      },
      "decode");
}

// Partial offload (--gpu-layers 1 and 2 of 3): the first layers on the GPU through
// LlamaCpu::set_layer_offload, the rest on the CPU, within the same bound of the CPU alone.
TEST_F(LlamaCudaModel, PartialOffloadMatchesCpu) {
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  const SyntheticPreset preset = testing::tiny_preset("gemma3", true, 3);
  auto path = std::filesystem::temp_directory_path() / "sy_cuda_offload_gemma3_q8_0.gguf";
  write_synthetic_model(preset, vocab, {.type = TensorType::q8_0, .seed = 19}, path);
  auto model = Model::load(path);
  std::vector<TokenId> tokens(40);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<TokenId>((i * 53 + 1) % 603);
  LlamaCpu cpu(*model, 64, 1);
  auto w = cpu.forward_batch(tokens, 0);
  const std::vector<float> want(w.begin(), w.end());
  auto w2 = cpu.forward(9, tokens.size());
  const std::vector<float> want2(w2.begin(), w2.end());
  for (size_t gpu_layers : {size_t{1}, size_t{2}}) {
    LlamaCuda part(*model, 64, 0, LlamaCpu::kPrefillChunk, gpu_layers);
    ASSERT_EQ(part.gpu_layers(), gpu_layers);
    LlamaCpu mixed(*model, 64, 1);
    mixed.set_layer_offload([&](std::span<const LlamaCpu::Row> rows, size_t bt, float* x) {
      return part.run_layers(rows, bt, x);
    });
    EXPECT_LT(testing::normalized_mse(mixed.forward_batch(tokens, 0), want), 1e-4) << gpu_layers;
    EXPECT_LT(testing::normalized_mse(mixed.forward(9, tokens.size()), want2), 1e-4) << gpu_layers;
  }
}

class LlamaCudaFamilies : public LlamaCudaModel,
                          public ::testing::WithParamInterface<std::string> {};

TEST_P(LlamaCudaFamilies, LogitsMatchCpuWithinBound) {
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  for (TensorType type : {TensorType::f32, TensorType::q8_0}) {
    const SyntheticPreset preset = testing::tiny_preset(GetParam(), type != TensorType::f32, 3);
    auto path = std::filesystem::temp_directory_path() /
                ("sy_cuda_" + preset.name + "_" + std::string(to_string(type)) + ".gguf");
    write_synthetic_model(preset, vocab, {.type = type, .seed = 13}, path);
    auto model = Model::load(path);
    constexpr size_t kPrompt = 150;
    std::vector<TokenId> tokens(kPrompt);
    for (size_t i = 0; i < kPrompt; ++i) tokens[i] = static_cast<TokenId>((i * 131 + 17) % 603);
    LlamaCpu cpu(*model, kPrompt + 8, 1);
    LlamaCuda gpu(*model, kPrompt + 8);
    auto want = cpu.forward_batch(tokens, 0);
    std::vector<float> want_copy(want.begin(), want.end());
    auto got = gpu.forward_batch(tokens, 0);
    const std::string what = GetParam() + " " + std::string(to_string(type));
    EXPECT_LT(testing::normalized_mse(got, want_copy), 1e-4) << what << " prompt";
    for (size_t pos = kPrompt; pos < kPrompt + 5; ++pos) {
      const TokenId next = static_cast<TokenId>((pos * 7) % 603);
      auto w = cpu.forward(next, pos);
      want_copy.assign(w.begin(), w.end());
      EXPECT_LT(testing::normalized_mse(gpu.forward(next, pos), want_copy), 1e-4)
          << what << " decode at " << pos;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, LlamaCudaFamilies,
                         ::testing::Values("llama", "qwen2", "qwen3", "gemma2", "gemma3"));

}  // namespace
}  // namespace sy::engine
