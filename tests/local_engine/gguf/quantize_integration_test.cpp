// quantize_gguf to BF16, Q4_K and Q6_K on a small Llama whose widths fit the K-quant super-blocks
// (built here: stories260K's vocabulary and metadata, dim 256, ffn 320 so ffn_down's 320-wide
// rows must fall back). The quantized file loads, the CPU pass over it matches the reference
// pass over the same file, stays close to the F32 model, and generates.
//
// Stated bounds, normalized MSE of the logits at every position of a short prompt:
//   CPU pass vs reference pass, same quantized file: 1e-3 for K-quants (the CPU pass quantizes
//   activations to Q8_K / Q8_0), 1e-8 for BF16 (exact widening, only summation order differs);
//   quantized vs F32 model, per position: BF16 1e-4, Q6_K 5e-3, Q4_K 6e-2 (measured at most
//   2.6e-3 and 3.8e-2: weight errors of ~3e-4 and ~5e-3 per matrix, see kernels/k_quants_test,
//   add up over the 15 matrices on the way); and Q4_K, at 4.5 bits per weight like Q4_0, ends
//   closer to F32 than Q4_0 does.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

#include "local_engine/normalized_mse.h"
#include "reference/llama_reference.h"
#include "runtime/llama_cpu.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/generate.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/quantize.h"

namespace sy::engine {
namespace {

namespace fs = std::filesystem;

const fs::path kStories = fs::path(SWITCHYARD_MODELS_DIR) / "stories260K/stories260K.gguf";

constexpr uint32_t kDim = 256, kFfn = 320, kLayers = 2, kHeads = 4, kKvHeads = 2;

std::span<const std::byte> bytes_of(const std::vector<float>& v) {
  return std::as_bytes(std::span(v));
}

// A random F32 Llama with stories260K's tokenizer. Weights N(0, 1/width) keep activations O(1).
fs::path write_wide_llama(const fs::path& path) {
  auto stories = GgufFile::open(kStories);
  const uint32_t vocab = static_cast<uint32_t>(stories->tensor("token_embd.weight").shape[1]);
  GgufWriter writer;
  for (const auto& [key, value] : stories->metadata()) writer.set(key, value);
  writer.set("llama.embedding_length", GgufValue::u32(kDim));
  writer.set("llama.feed_forward_length", GgufValue::u32(kFfn));
  writer.set("llama.block_count", GgufValue::u32(kLayers));
  writer.set("llama.attention.head_count", GgufValue::u32(kHeads));
  writer.set("llama.attention.head_count_kv", GgufValue::u32(kKvHeads));
  writer.set("llama.rope.dimension_count", GgufValue::u32(kDim / kHeads));
  std::mt19937 rng(41);
  auto matrix = [&](const std::string& name, uint32_t cols, uint32_t rows, float scale) {
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> w(size_t{cols} * rows);
    for (auto& v : w) v = dist(rng);
    writer.add_tensor(name, TensorType::f32, {cols, rows}, bytes_of(w));
  };
  auto norm = [&](const std::string& name) {
    std::uniform_real_distribution<float> dist(0.8f, 1.2f);
    std::vector<float> w(kDim);
    for (auto& v : w) v = dist(rng);
    writer.add_tensor(name, TensorType::f32, {kDim}, bytes_of(w));
  };
  const uint32_t head_dim = kDim / kHeads;
  matrix("token_embd.weight", kDim, vocab, 1.0f);
  norm("output_norm.weight");
  matrix("output.weight", kDim, vocab, 1.0f / 16);
  for (uint32_t l = 0; l < kLayers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    matrix(b + "attn_q.weight", kDim, kHeads * head_dim, 1.0f / 16);
    matrix(b + "attn_k.weight", kDim, kKvHeads * head_dim, 1.0f / 16);
    matrix(b + "attn_v.weight", kDim, kKvHeads * head_dim, 1.0f / 16);
    matrix(b + "attn_output.weight", kHeads * head_dim, kDim, 1.0f / 16);
    matrix(b + "ffn_gate.weight", kDim, kFfn, 1.0f / 16);
    matrix(b + "ffn_up.weight", kDim, kFfn, 1.0f / 16);
    matrix(b + "ffn_down.weight", kFfn, kDim, 1.0f / 18);
    norm(b + "attn_norm.weight");
    norm(b + "ffn_norm.weight");
  }
  writer.write(path);
  return path;
}

using sy::engine::testing::normalized_mse;

class WideLlamaQuantize : public ::testing::Test {
 protected:
  // ctest runs each test in its own process, in parallel: every process gets its own directory.
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("sy_wide_llama_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    f32_path_ = write_wide_llama(dir_ / "f32.gguf");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Returns the mean over positions of the logits' normalized MSE against the F32 model.
  double expect_quantized_model_works(TensorType type, double cpu_bound, double f32_bound) {
    const fs::path path = dir_ / (std::string(to_string(type)) + ".gguf");
    const QuantizeReport report = quantize_gguf(f32_path_, path, {.type = type});
    auto file = GgufFile::open(path);
    EXPECT_EQ(file->tensor("blk.0.attn_q.weight").type, type);
    EXPECT_EQ(file->tensor("blk.1.ffn_gate.weight").type, type);
    EXPECT_EQ(file->tensor("token_embd.weight").type, type);
    EXPECT_EQ(file->tensor("blk.0.attn_norm.weight").type, TensorType::f32);
    const bool k_quant = type == TensorType::q4_k || type == TensorType::q6_k;
    // ffn_down rows are 320 wide: a multiple of 32 but not of 256.
    EXPECT_EQ(file->tensor("blk.0.ffn_down.weight").type, k_quant ? TensorType::q8_0 : type);
    EXPECT_EQ(report.fell_back, k_quant ? kLayers : 0u);
    EXPECT_EQ(report.converted, 2 + 6 * kLayers + (k_quant ? 0 : kLayers));
    EXPECT_EQ(file->get_u32("general.file_type"), type == TensorType::q4_k   ? 14u
                                                  : type == TensorType::q6_k ? 18u
                                                                             : 32u);

    auto quantized = Model::load(path);
    auto original = Model::load(f32_path_);
    // F32 KV cache: the bound is on the weight kernels, not on the cache encoding.
    LlamaCpu cpu(*quantized, 32, 1, KvCacheType::f32);
    LlamaReference same_file(*quantized, 32), f32(*original, 32);
    const auto prompt = original->tokenizer().encode("Once upon a time, Lily saw a big dog.");
    EXPECT_GT(prompt.size(), 8u);
    double sum = 0;
    for (size_t pos = 0; pos < prompt.size(); ++pos) {
      const auto got = cpu.forward(prompt[pos], pos);
      const auto want = same_file.forward(prompt[pos], pos);
      const auto exact = f32.forward(prompt[pos], pos);
      EXPECT_LT(normalized_mse(got, want), cpu_bound) << to_string(type) << " pos " << pos;
      EXPECT_LT(normalized_mse(got, exact), f32_bound) << to_string(type) << " pos " << pos;
      sum += normalized_mse(got, exact);
    }
    GenerateOptions options;
    options.max_tokens = 12;
    options.ignore_eos = true;
    EXPECT_EQ(generate(*quantized, "Once", options).tokens.size(), 12u);
    fs::remove(path);
    return sum / static_cast<double>(prompt.size());
  }

  // Mean over positions of the logits' normalized MSE against the F32 model; removes `path`.
  static double mean_f32_error(const fs::path& path) {
    auto quantized = Model::load(path);
    auto original = Model::load(f32_path_);
    // F32 KV cache: the bound is on the weight kernels, not on the cache encoding.
    LlamaCpu cpu(*quantized, 32, 1, KvCacheType::f32);
    LlamaReference f32(*original, 32);
    const auto prompt = original->tokenizer().encode("Once upon a time, Lily saw a big dog.");
    double sum = 0;
    for (size_t pos = 0; pos < prompt.size(); ++pos) {
      sum += normalized_mse(cpu.forward(prompt[pos], pos), f32.forward(prompt[pos], pos));
    }
    fs::remove(path);
    return sum / static_cast<double>(prompt.size());
  }

  static fs::path dir_;
  static fs::path f32_path_;
};

fs::path WideLlamaQuantize::dir_;
fs::path WideLlamaQuantize::f32_path_;

TEST_F(WideLlamaQuantize, Q4_KLoadsMatchesTheReferenceAndGeneratesBetterThanQ4_0) {
  const double q4_k = expect_quantized_model_works(TensorType::q4_k, 1e-3, 6e-2);
  const fs::path q4_0_path = dir_ / "q4_0.gguf";
  quantize_gguf(f32_path_, q4_0_path, {.type = TensorType::q4_0});
  const double q4_0 = mean_f32_error(q4_0_path);
  std::printf("mean normalized MSE vs F32: q4_k %.3g, q4_0 %.3g\n", q4_k, q4_0);
  EXPECT_LT(q4_k, q4_0);
}

TEST_F(WideLlamaQuantize, Q6_KLoadsMatchesTheReferenceAndGenerates) {
  std::printf("mean normalized MSE vs F32: q6_k %.3g\n",
              expect_quantized_model_works(TensorType::q6_k, 1e-3, 5e-3));
}

TEST_F(WideLlamaQuantize, Bf16LoadsMatchesTheReferenceAndGenerates) {
  std::printf("mean normalized MSE vs F32: bf16 %.3g\n",
              expect_quantized_model_works(TensorType::bf16, 1e-8, 1e-4));
}

TEST_F(WideLlamaQuantize, ExplicitFallbackTypeIsUsed) {
  const fs::path path = dir_ / "q4_k_f16.gguf";
  const QuantizeReport report =
      quantize_gguf(f32_path_, path, {.type = TensorType::q4_k, .fallback = TensorType::f16});
  EXPECT_EQ(report.fell_back, kLayers);
  EXPECT_EQ(GgufFile::open(path)->tensor("blk.1.ffn_down.weight").type, TensorType::f16);
  fs::remove(path);
}

TEST(Quantize, DefaultFallbackLosesNoMorePrecisionThanTheTarget) {
  EXPECT_EQ(default_fallback(TensorType::q4_k), TensorType::q8_0);
  EXPECT_EQ(default_fallback(TensorType::q6_k), TensorType::q8_0);
  EXPECT_EQ(default_fallback(TensorType::q4_0), TensorType::f16);
  EXPECT_THROW(quantize_gguf(kStories, fs::temp_directory_path() / "sy_quantize_never.gguf",
                             {.type = TensorType::q5_k}),
               EngineError);
}

}  // namespace
}  // namespace sy::engine
