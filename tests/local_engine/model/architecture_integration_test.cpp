// Every architecture family on tiny random models (written by write_synthetic_model with the
// stories260K vocabulary padded to an awkward size): the hyper-parameters read back as written,
// and the CPU pass matches the reference pass. Stated bounds, normalized MSE of the logits
// (sum (cpu - ref)^2 / sum ref^2) at every one of 24 positions:
//   F32 weights, F32 KV cache: 1e-8 (summation order and RoPE angle rounding only);
//   F32 weights, F16 KV cache: 1e-5 (keys and values rounded to 11 significant bits);
//   Q8_0 weights: 1e-3 (the CPU pass quantizes activations to Q8_0, the reference does not).
// Widths are not multiples of 8 or 16 in the F32 models (dim 72, FFN 100, heads of 12 or 20).

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "local_engine/model/tiny_preset.h"
#include "local_engine/normalized_mse.h"
#include "model/architecture.h"
#include "reference/llama_reference.h"
#include "runtime/llama_cpu.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/synthetic_model.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories =
    std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K/stories260K.gguf";

using sy::engine::testing::normalized_mse;
using sy::engine::testing::tiny_preset;

std::filesystem::path write_tiny(const SyntheticPreset& preset, TensorType type) {
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  auto path = std::filesystem::temp_directory_path() /
              ("sy_arch_" + preset.name + "_" + std::string(to_string(type)) + ".gguf");
  write_synthetic_model(preset, vocab, {.type = type, .seed = 7}, path);
  return path;
}

void expect_cpu_matches_reference(const Model& model, KvCacheType kv, double bound) {
  constexpr size_t kPositions = 24;
  LlamaCpu cpu(model, kPositions, 2, kv);
  LlamaReference reference(model, kPositions);
  for (size_t pos = 0; pos < kPositions; ++pos) {
    const TokenId token = static_cast<TokenId>((pos * 131 + 17) % model.config().n_vocab);
    auto a = cpu.forward(token, pos);
    std::vector<float> a_copy(a.begin(), a.end());
    auto b = reference.forward(token, pos);
    EXPECT_LT(normalized_mse(a_copy, b), bound) << model.config().architecture << " pos " << pos;
  }
}

class ArchitectureFamily : public ::testing::TestWithParam<std::string> {};

TEST_P(ArchitectureFamily, CpuPassMatchesReferenceOnF32Weights) {
  auto path = write_tiny(tiny_preset(GetParam(), false), TensorType::f32);
  auto model = Model::load(path);
  expect_cpu_matches_reference(*model, KvCacheType::f32, 1e-8);
  expect_cpu_matches_reference(*model, KvCacheType::f16, 1e-5);
  std::filesystem::remove(path);
}

TEST_P(ArchitectureFamily, CpuPassMatchesReferenceOnQ8_0Weights) {
  auto path = write_tiny(tiny_preset(GetParam(), true), TensorType::q8_0);
  auto model = Model::load(path);
  expect_cpu_matches_reference(*model, KvCacheType::f16, 1e-3);
  std::filesystem::remove(path);
}

TEST_P(ArchitectureFamily, ReadsBackTheHyperParametersItWasWrittenWith) {
  const SyntheticPreset preset = tiny_preset(GetParam(), false);
  auto path = write_tiny(preset, TensorType::f32);
  auto model = Model::load(path);
  const ModelConfig& c = model->config();
  const ModelConfig& want = preset.config;
  EXPECT_EQ(c.architecture, GetParam());
  EXPECT_EQ(c.n_vocab, want.n_vocab);
  EXPECT_EQ(c.dim, want.dim);
  EXPECT_EQ(c.n_layers, want.n_layers);
  EXPECT_EQ(c.n_heads, want.n_heads);
  EXPECT_EQ(c.n_kv_heads, want.n_kv_heads);
  EXPECT_EQ(c.head_dim, want.head_dim);
  EXPECT_EQ(c.ffn_dim, want.ffn_dim);
  EXPECT_EQ(c.rms_eps, want.rms_eps);
  EXPECT_EQ(c.tied_output, want.tied_output);
  EXPECT_EQ(model->tokenizer().size(), 603u);  // 512 real tokens, 91 "[PAD<id>]"
  const std::string& a = GetParam();
  EXPECT_EQ(c.qkv_bias, a == "qwen2");
  EXPECT_EQ(c.qk_norm, a == "qwen3" || a == "gemma3");
  EXPECT_EQ(c.post_norms, a.starts_with("gemma"));
  EXPECT_EQ(c.rope_style, a == "llama" ? RopeStyle::adjacent_pairs : RopeStyle::halves);
  EXPECT_EQ(c.activation, a.starts_with("gemma") ? FfnActivation::gelu_tanh : FfnActivation::silu);
  if (a.starts_with("gemma")) {
    EXPECT_FLOAT_EQ(c.embedding_scale, std::sqrt(72.0f));
    EXPECT_EQ(c.sliding_window, 5u);
    const std::vector<uint8_t> gemma2 = {1, 0, 1, 0, 1, 0, 1};
    const std::vector<uint8_t> gemma3 = {1, 1, 1, 1, 1, 0, 1};
    EXPECT_EQ(c.sliding_layers, a == "gemma2" ? gemma2 : gemma3);
  }
  if (a == "gemma2") {
    EXPECT_FLOAT_EQ(c.attn_softcap, 0.5f);
    EXPECT_FLOAT_EQ(c.final_softcap, 0.25f);
  }
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, ArchitectureFamily,
                         ::testing::Values("llama", "qwen2", "qwen3", "gemma2", "gemma3"),
                         [](const auto& info) { return info.param; });

TEST(Gemma2, FinalSoftcapBoundsEveryLogit) {
  auto path = write_tiny(tiny_preset("gemma2", false), TensorType::f32);
  auto model = Model::load(path);
  LlamaCpu cpu(*model, 4, 1);
  for (size_t pos = 0; pos < 4; ++pos) {
    for (float l : cpu.forward(static_cast<TokenId>(pos + 3), pos)) ASSERT_LT(std::fabs(l), 0.25f);
  }
  std::filesystem::remove(path);
}

// Until the window is full a sliding layer sees what a global one sees; afterwards it does not.
TEST(Gemma3, SlidingWindowChangesLogitsOnlyOnceTheWindowIsFull) {
  SyntheticPreset windowed = tiny_preset("gemma3", false);
  SyntheticPreset wide = windowed;
  wide.name += "-wide";
  wide.config.sliding_window = 1000;
  auto path_a = write_tiny(windowed, TensorType::f32);
  auto path_b = write_tiny(wide, TensorType::f32);
  auto a = Model::load(path_a);
  auto b = Model::load(path_b);
  LlamaReference ra(*a, 8), rb(*b, 8);
  for (size_t pos = 0; pos < 8; ++pos) {
    auto la = ra.forward(static_cast<TokenId>(pos * 7 + 1), pos);
    std::vector<float> la_copy(la.begin(), la.end());
    auto lb = rb.forward(static_cast<TokenId>(pos * 7 + 1), pos);
    if (pos < 5) {
      EXPECT_EQ(la_copy, std::vector<float>(lb.begin(), lb.end())) << "pos " << pos;
    } else {
      EXPECT_GT(normalized_mse(la_copy, lb), 1e-10) << "pos " << pos;
    }
  }
  std::filesystem::remove(path_a);
  std::filesystem::remove(path_b);
}

TEST(Llama, Llama3RopeFactorsAndLinearScalingReachBothPasses) {
  SyntheticPreset llama3 = tiny_preset("llama", false);
  llama3.name += "-rope3";
  // A short "original context" so that some of the 6 frequencies of a 12-wide head are scaled.
  llama3.llama3_rope = {
      .factor = 8.0f, .low_freq_factor = 1.0f, .high_freq_factor = 4.0f, .original_context = 32};
  auto path = write_tiny(llama3, TensorType::f32);
  auto model = Model::load(path);
  EXPECT_TRUE(model->config().rope_freq_factors);
  const auto& factors = model->weights().rope_freqs;
  ASSERT_EQ(factors.size(), 6u);
  EXPECT_FLOAT_EQ(factors.front(), 1.0f);  // the highest frequency is left alone
  EXPECT_FLOAT_EQ(factors.back(), 8.0f);   // the lowest is divided by the factor
  expect_cpu_matches_reference(*model, KvCacheType::f32, 1e-8);
  std::filesystem::remove(path);

  SyntheticPreset linear = tiny_preset("llama", false);
  linear.name += "-linear";
  linear.config.rope_freq_scale = 0.25f;
  path = write_tiny(linear, TensorType::f32);
  model = Model::load(path);
  EXPECT_FLOAT_EQ(model->config().rope_freq_scale, 0.25f);
  expect_cpu_matches_reference(*model, KvCacheType::f32, 1e-8);
  std::filesystem::remove(path);
}

TEST(SyntheticModel, PresetsCarryThePublishedShapes) {
  auto smol = find_synthetic_preset("smollm2-135m");
  ASSERT_TRUE(smol);
  EXPECT_EQ(smol->config.dim, 576u);
  EXPECT_EQ(smol->config.n_layers, 30u);
  EXPECT_EQ(smol->config.n_vocab, 49152u);
  auto qwen3 = find_synthetic_preset("qwen3-0.6b");
  ASSERT_TRUE(qwen3);
  EXPECT_EQ(qwen3->config.head_dim, 128u);
  EXPECT_EQ(qwen3->config.n_vocab, 151936u);
  auto gemma = find_synthetic_preset("gemma3-270m");
  ASSERT_TRUE(gemma);
  EXPECT_EQ(gemma->config.n_vocab, 262144u);
  EXPECT_EQ(gemma->config.sliding_window, 512u);
  auto gemma2 = find_synthetic_preset("gemma2-2b");
  ASSERT_TRUE(gemma2);
  EXPECT_FLOAT_EQ(gemma2->config.final_softcap, 30.0f);
  EXPECT_EQ(synthetic_presets().size(), 8u);
  for (const auto& p : synthetic_presets()) {
    EXPECT_NE(find_architecture(p.config.architecture), nullptr) << p.name;
  }
  EXPECT_FALSE(find_synthetic_preset("gpt-5"));
}

TEST(SyntheticModel, SameSeedSameBytesAndFewerLayersKeepTheFirstOnes) {
  const SyntheticPreset preset = tiny_preset("qwen2", true);
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  auto dir = std::filesystem::temp_directory_path();
  write_synthetic_model(preset, vocab, {.type = TensorType::q8_0, .seed = 3}, dir / "sy_a.gguf");
  write_synthetic_model(preset, vocab, {.type = TensorType::q8_0, .seed = 3}, dir / "sy_b.gguf");
  write_synthetic_model(preset, vocab, {.type = TensorType::q8_0, .seed = 4}, dir / "sy_c.gguf");
  write_synthetic_model(preset, vocab, {.type = TensorType::q8_0, .seed = 3, .layers = 2},
                        dir / "sy_d.gguf");
  auto a = GgufFile::open(dir / "sy_a.gguf");
  auto b = GgufFile::open(dir / "sy_b.gguf");
  auto c = GgufFile::open(dir / "sy_c.gguf");
  auto d = GgufFile::open(dir / "sy_d.gguf");
  auto bytes = [](const GgufFile& f, const char* name) {
    auto data = f.tensor(name).data;
    return std::vector<std::byte>(data.begin(), data.end());
  };
  EXPECT_EQ(bytes(*a, "blk.1.attn_q.weight"), bytes(*b, "blk.1.attn_q.weight"));
  EXPECT_NE(bytes(*a, "blk.1.attn_q.weight"), bytes(*c, "blk.1.attn_q.weight"));
  EXPECT_EQ(bytes(*a, "blk.1.ffn_up.weight"), bytes(*d, "blk.1.ffn_up.weight"));
  EXPECT_EQ(d->get_u32("qwen2.block_count"), 2u);
  EXPECT_EQ(a->tensor("blk.0.attn_q.weight").type, TensorType::q8_0);
  EXPECT_EQ(a->tensor("blk.0.attn_q.bias").type, TensorType::f32);
  for (const char* f : {"sy_a.gguf", "sy_b.gguf", "sy_c.gguf", "sy_d.gguf"}) {
    std::filesystem::remove(dir / f);
  }
}

TEST(SyntheticModel, RefusesAVocabularyLargerThanThePreset) {
  SyntheticPreset preset = tiny_preset("llama", true);
  preset.config.n_vocab = 100;
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  EXPECT_THROW(write_synthetic_model(preset, vocab, {},
                                     std::filesystem::temp_directory_path() / "sy_too_small.gguf"),
               EngineError);
  // --vocab may shrink the padding, never below the tokenizer.
  SyntheticPreset bigger = tiny_preset("llama", true);
  auto dir = std::filesystem::temp_directory_path();
  EXPECT_THROW(write_synthetic_model(bigger, vocab, {.vocab = 511}, dir / "sy_vocab.gguf"),
               EngineError);
  write_synthetic_model(bigger, vocab, {.vocab = 520}, dir / "sy_vocab.gguf");
  EXPECT_EQ(Model::load(dir / "sy_vocab.gguf")->config().n_vocab, 520u);
  std::filesystem::remove(dir / "sy_vocab.gguf");
}

}  // namespace
}  // namespace sy::engine
