// A quantized copy of stories260K (written by quantize_gguf) loads and runs, and its next-token
// logits stay close to the F32 model's. Stated bound: normalized MSE (sum (q - f)^2 / sum f^2)
// of the logits at every position of a short prompt below 1e-5 for F16, 1e-3 for Q8_0 and 0.3
// for Q4_0 (a 64-wide model has nothing to average 4-bit errors over; the per-element Q4_0
// error is bounded exactly in cpu_kernels_test).

#include <gtest/gtest.h>

#include <filesystem>

#include "local_engine/normalized_mse.h"
#include "reference/llama_reference.h"
#include "switchyard/local_engine/generate.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/quantize.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories =
    std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K/stories260K.gguf";

using sy::engine::testing::normalized_mse;

void expect_close_to_f32(TensorType type, double bound, size_t fallbacks) {
  auto path = std::filesystem::temp_directory_path() /
              ("sy_stories_" + std::string(to_string(type)) + ".gguf");
  QuantizeReport report = quantize_gguf(kStories, path, {.type = type});
  // ffn_down's rows are 172 wide, not a multiple of 32: those five fall back.
  EXPECT_EQ(report.fell_back, fallbacks);
  EXPECT_GT(report.converted, 0u);
  auto file = GgufFile::open(path);
  EXPECT_EQ(file->tensor("blk.0.attn_q.weight").type, type);
  EXPECT_EQ(file->tensor("blk.0.ffn_down.weight").type, TensorType::f16);
  EXPECT_EQ(file->tensor("blk.0.attn_norm.weight").type, TensorType::f32);

  auto quantized = Model::load(path);
  auto reference = Model::load(kStories);
  LlamaReference q(*quantized, 16), f(*reference, 16);
  auto prompt = reference->tokenizer().encode("Once upon a time, Lily");
  for (size_t pos = 0; pos < prompt.size(); ++pos) {
    auto ql = q.forward(prompt[pos], pos);
    auto fl = f.forward(prompt[pos], pos);
    EXPECT_LT(normalized_mse(ql, fl), bound) << to_string(type) << " pos " << pos;
  }
  GenerateOptions options;
  options.max_tokens = 20;
  EXPECT_EQ(generate(*quantized, "", options).tokens.size(), 20u);
  std::filesystem::remove(path);
}

TEST(QuantizedModel, Q8_0StaysCloseToF32) { expect_close_to_f32(TensorType::q8_0, 1e-3, 5); }

TEST(QuantizedModel, Q4_0StaysCloseToF32) { expect_close_to_f32(TensorType::q4_0, 0.3, 5); }

TEST(QuantizedModel, F16StaysCloseToF32) { expect_close_to_f32(TensorType::f16, 1e-5, 0); }

}  // namespace
}  // namespace sy::engine
