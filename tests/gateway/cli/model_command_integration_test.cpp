// `switchyard model info | tokenize | quantize` end to end through the built binary, on the
// real files in ../shared/models/.

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/cli/cli_process.h"
#include "gateway/cli/temp_dir.h"
#include "switchyard/local_engine/tokenizer.h"
#include "switchyard/local_engine/vocabulary.h"

namespace sy::gateway {
namespace {

using testing::read_file;
using testing::run_process;
using testing::switchyard_binary;
using testing::TempDir;

const std::string kModels = SWITCHYARD_MODELS_DIR;
const std::string kStories = kModels + "/stories260K/stories260K.gguf";

#define SKIP_WITHOUT(path) \
  if (!std::filesystem::exists(path)) GTEST_SKIP() << (path) << " not found"

std::vector<int> ids_of(const std::string& json_line) {
  return nlohmann::json::parse(json_line).get<std::vector<int>>();
}

// The first case of a llama.cpp vocab test: the text before the first separator and the ids on
// the first line of the .out file.
struct VocabCase {
  std::string text;
  std::vector<int> ids;
};

VocabCase first_vocab_case(const std::string& vocab) {
  const std::string inp = read_file(vocab + ".inp");
  VocabCase c;
  c.text = inp.substr(0, inp.find("\n__ggml_vocab_test__\n"));
  const std::string out = read_file(vocab + ".out");
  std::istringstream line(out.substr(0, out.find('\n')));
  for (int id; line >> id;) c.ids.push_back(id);
  return c;
}

TEST(ModelInfoCommand, PrintsMetadataTensorsAndMemoryWhenGguf) {
  SKIP_WITHOUT(kStories);
  auto r = run_process({switchyard_binary(), "model", "info", kStories});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GGUF v3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"general.architecture\": string = \"llama\""), std::string::npos);
  // The FFN width 172 with dim 64, f32: 172 * 64 * 4 bytes.
  EXPECT_NE(r.out.find("blk.0.ffn_down.weight"), std::string::npos);
  EXPECT_NE(r.out.find("[172, 64]"), std::string::npos);
  EXPECT_NE(r.out.find("44032"), std::string::npos);
  EXPECT_NE(r.out.find("memory need: weights"), std::string::npos);
  EXPECT_NE(r.out.find("KV cache"), std::string::npos);
}

TEST(ModelInfoCommand, PrintsConfigWhenLlama2cCheckpoint) {
  const std::string dir = kModels + "/stories260K";
  SKIP_WITHOUT(dir + "/stories260K.bin");
  auto r = run_process({switchyard_binary(), "model", "info", dir + "/stories260K.bin",
                        "--tokenizer", dir + "/tok512.bin"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("llama2.c"), std::string::npos);
  EXPECT_NE(r.out.find("dim 64, layers 5, heads 8, kv heads 4"), std::string::npos) << r.out;
}

TEST(ModelInfoCommand, FailsWithClearErrorWhenFileIsTruncated) {
  SKIP_WITHOUT(kStories);
  TempDir dir;
  auto path = dir.write("cut.gguf", read_file(kStories).substr(0, 4096));
  auto r = run_process({switchyard_binary(), "model", "info", path.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("switchyard model info:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cut.gguf"), std::string::npos) << r.err;
}

TEST(ModelTokenizeCommand, MatchesLlamaCppVectorWhenVocabOnlyGguf) {
  const std::string vocab = kModels + "/vocab/ggml-vocab-llama-spm.gguf";
  SKIP_WITHOUT(vocab);
  const auto expected = first_vocab_case(vocab);
  auto r = run_process(
      {switchyard_binary(), "model", "tokenize", "-m", vocab, "--no-bos", expected.text});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ids_of(r.out), expected.ids);
  // One JSON line and nothing else.
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1);
}

TEST(ModelTokenizeCommand, AddsBosUnlessNoBos) {
  SKIP_WITHOUT(kStories);
  auto with = run_process({switchyard_binary(), "model", "tokenize", "-m", kStories, "Lily"});
  auto without =
      run_process({switchyard_binary(), "model", "tokenize", "-m", kStories, "--no-bos", "Lily"});
  ASSERT_EQ(with.exit_code, 0) << with.err;
  ASSERT_EQ(without.exit_code, 0) << without.err;
  auto a = ids_of(with.out);
  auto b = ids_of(without.out);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a.front(), 1);  // stories260K's BOS
  EXPECT_EQ(std::vector<int>(a.begin() + 1, a.end()), b);
}

TEST(ModelTokenizeCommand, ReadsTextFromFileLikeArgument) {
  const std::string json = kModels + "/smollm2-135m-instruct/tokenizer.json";
  SKIP_WITHOUT(json);
  const std::string text = "Hello world!\n  def f(x):\n\treturn x ** 2  # 🚀 ünïcödé 12345";
  TempDir dir;
  auto file = dir.write("text.txt", text);
  auto from_file =
      run_process({switchyard_binary(), "model", "tokenize", "-m", json, "--file", file.string()});
  auto from_arg = run_process({switchyard_binary(), "model", "tokenize", "-m", json, text});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  ASSERT_EQ(from_arg.exit_code, 0) << from_arg.err;
  EXPECT_EQ(from_file.out, from_arg.out);
  // The same ids as the engine's own tokenizer in this process.
  auto tokenizer = engine::Tokenizer::create(
      engine::vocabulary_from_tokenizer_json(std::filesystem::path(json)));
  auto expected = tokenizer->encode(text);
  EXPECT_EQ(ids_of(from_file.out), std::vector<int>(expected.begin(), expected.end()));
}

TEST(ModelTokenizeCommand, ParsesSpecialTokensOnlyWhenAsked) {
  const std::string json = kModels + "/smollm2-135m-instruct/tokenizer.json";
  SKIP_WITHOUT(json);
  auto plain = run_process({switchyard_binary(), "model", "tokenize", "-m", json, "<|im_start|>"});
  auto special = run_process(
      {switchyard_binary(), "model", "tokenize", "-m", json, "--special", "<|im_start|>"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(special.exit_code, 0) << special.err;
  EXPECT_EQ(ids_of(special.out).size(), 1u);
  EXPECT_GT(ids_of(plain.out).size(), 1u);
}

TEST(ModelTokenizeCommand, FailsWhenBothTextAndFileGiven) {
  SKIP_WITHOUT(kStories);
  auto r = run_process(
      {switchyard_binary(), "model", "tokenize", "-m", kStories, "--file", "/etc/hostname", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not both"), std::string::npos) << r.err;
}

TEST(ModelQuantizeCommand, WritesQ8ModelWithFallbackThatStillGenerates) {
  SKIP_WITHOUT(kStories);
  TempDir dir;
  const auto out = (dir / "stories-q8_0.gguf").string();
  auto q = run_process({switchyard_binary(), "model", "quantize", kStories, out, "--type", "q8_0"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  // ffn_down (width 172) does not fit Q8_0's 32-wide blocks: 5 layers fall back to f16.
  EXPECT_NE(q.out.find("5 f16"), std::string::npos) << q.out;

  auto info = run_process({switchyard_binary(), "model", "info", out});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("q8_0"), std::string::npos);
  EXPECT_NE(info.out.find("blk.0.ffn_down.weight"), std::string::npos);
  EXPECT_LT(std::filesystem::file_size(out), std::filesystem::file_size(kStories));

  auto gen = run_process({switchyard_binary(), "generate", "-m", out, "-n", "20"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_FALSE(gen.out.empty());
}

TEST(ModelQuantizeCommand, KQuantsFallBackToQ8_0UnlessToldOtherwise) {
  SKIP_WITHOUT(kStories);
  TempDir dir;
  // stories260K's rows are 64 and 172 wide: none fits Q4_K's 256-wide super-blocks.
  const auto out = (dir / "stories-q4_k.gguf").string();
  auto q = run_process({switchyard_binary(), "model", "quantize", kStories, out, "--type", "q4_k"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(q.out.find("0 matrices q4_k, 37 q8_0"), std::string::npos) << q.out;
  auto gen = run_process({switchyard_binary(), "generate", "-m", out, "-n", "8"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;

  const auto out_f16 = (dir / "stories-q6_k-f16.gguf").string();
  auto f16 = run_process({switchyard_binary(), "model", "quantize", kStories, out_f16, "--type",
                          "q6_k", "--fallback-type", "f16"});
  ASSERT_EQ(f16.exit_code, 0) << f16.err;
  EXPECT_NE(f16.out.find("0 matrices q6_k, 37 f16"), std::string::npos) << f16.out;
}

TEST(ModelQuantizeCommand, RejectsUnknownTypeAndOverwritingInput) {
  SKIP_WITHOUT(kStories);
  TempDir dir;
  auto bad = run_process({switchyard_binary(), "model", "quantize", kStories,
                          (dir / "x.gguf").string(), "--type", "q9_9"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unknown tensor type"), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));

  auto self = run_process(
      {switchyard_binary(), "model", "quantize", kStories, kStories, "--type", "q8_0", "--force"});
  EXPECT_EQ(self.exit_code, 1);
  EXPECT_NE(self.err.find("OUT must not be IN"), std::string::npos) << self.err;
}

}  // namespace
}  // namespace sy::gateway
