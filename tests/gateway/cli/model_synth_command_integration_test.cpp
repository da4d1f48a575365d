// `switchyard model synth` end to end through the built binary: the file it writes carries the
// preset's shapes and metadata, loads and generates; errors are clear. (Agreement with llama.cpp
// on every preset is tests/e2e/engine_oracle.test.mjs.)

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "gateway/cli/cli_process.h"
#include "gateway/cli/temp_dir.h"
#include "switchyard/local_engine/gguf_file.h"

namespace sy::gateway {
namespace {

using testing::last_line;
using testing::run_process;
using testing::switchyard_binary;
using testing::TempDir;

const std::string kTokenizer = SWITCHYARD_MODELS_DIR "/smollm2-135m-instruct/tokenizer.json";

#define SKIP_WITHOUT(path) \
  if (!std::filesystem::exists(path)) GTEST_SKIP() << (path) << " not found"

TEST(ModelSynthCommand, WritesPresetShapesThatLoadAndGenerate) {
  SKIP_WITHOUT(kTokenizer);
  TempDir dir;
  const auto out = (dir / "qwen3.gguf").string();
  auto r =
      run_process({switchyard_binary(), "model", "synth", "--like", "qwen3-0.6b", "--tokenizer",
                   kTokenizer, "--type", "q4_0", "--seed", "5", "--layers", "1", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("qwen3-0.6b"), std::string::npos) << r.out;

  auto file = engine::GgufFile::open(out);
  EXPECT_EQ(file->get_string("general.architecture"), "qwen3");
  EXPECT_EQ(file->get_u32("qwen3.embedding_length"), 1024u);
  EXPECT_EQ(file->get_u32("qwen3.attention.key_length"), 128u);
  EXPECT_EQ(file->get_u32("qwen3.block_count"), 1u);
  EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(file->get_string_array("tokenizer.ggml.tokens").size(), 151936u);
  EXPECT_EQ(file->get_string_array("tokenizer.ggml.tokens").back(), "[PAD151935]");
  EXPECT_EQ(file->tensor("token_embd.weight").shape, (std::vector<uint64_t>{1024, 151936}));
  EXPECT_EQ(file->tensor("blk.0.attn_q.weight").type, engine::TensorType::q4_0);
  EXPECT_EQ(file->tensor("blk.0.attn_q_norm.weight").shape, (std::vector<uint64_t>{128}));
  EXPECT_EQ(file->find_tensor("output.weight"), nullptr);  // tied, as published

  auto gen = run_process({switchyard_binary(), "generate", "-m", out, "-p", "Hello", "-n", "3",
                          "--ignore-eos", "--stats-json"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto stats = nlohmann::json::parse(last_line(gen.err));
  EXPECT_EQ(stats.at("tokens").size(), 3u);
  EXPECT_EQ(stats.at("logprobs").size(), 3u);
}

TEST(ModelSynthCommand, FailsClearlyOnUnknownPresetTypeOrExistingOutput) {
  SKIP_WITHOUT(kTokenizer);
  TempDir dir;
  const auto out = (dir / "x.gguf").string();
  auto preset = run_process({switchyard_binary(), "model", "synth", "--like", "gpt-9",
                             "--tokenizer", kTokenizer, "-o", out});
  EXPECT_EQ(preset.exit_code, 1);
  EXPECT_NE(preset.err.find("unknown preset"), std::string::npos) << preset.err;
  EXPECT_NE(preset.err.find("gemma3-270m"), std::string::npos) << preset.err;
  EXPECT_FALSE(std::filesystem::exists(out));

  auto type = run_process({switchyard_binary(), "model", "synth", "--like", "smollm2-135m",
                           "--tokenizer", kTokenizer, "--type", "q9_9", "-o", out});
  EXPECT_EQ(type.exit_code, 1);
  EXPECT_NE(type.err.find("unknown tensor type"), std::string::npos) << type.err;

  auto ok = run_process({switchyard_binary(), "model", "synth", "--like", "smollm2-135m",
                         "--tokenizer", kTokenizer, "--layers", "1", "-o", out});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  auto again = run_process({switchyard_binary(), "model", "synth", "--like", "smollm2-135m",
                            "--tokenizer", kTokenizer, "--layers", "1", "-o", out});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace sy::gateway
