// `switchyard generate` end to end: the built binary on stories260K, whose greedy output from
// BOS is documented in ../shared/models/README.md.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "gateway/cli/cli_process.h"
#include "gateway/cli/temp_dir.h"

namespace sy::gateway {
namespace {

using testing::last_line;
using testing::run_process;
using testing::switchyard_binary;

const std::string kModels = SWITCHYARD_MODELS_DIR "/stories260K";

// llama2.c's documented greedy continuation of BOS (models/README.md).
const std::string kGolden =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n"
    "Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. "
    "She said, \"I want to play with your ball, but I can't find it.\"";

void skip_without_models() {
  if (!std::filesystem::exists(kModels + "/stories260K.gguf")) {
    GTEST_SKIP() << "stories260K not found in " << kModels;
  }
}

TEST(GenerateCommand, ReproducesGoldenTextWhenGreedyFromBosOnGguf) {
  skip_without_models();
  auto r = run_process({switchyard_binary(), "generate", "-m", kModels + "/stories260K.gguf", "-n",
                        "256", "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, kGolden.size()), kGolden);
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
}

TEST(GenerateCommand, ReproducesGoldenTextWhenGreedyFromBosOnLlama2cCheckpoint) {
  skip_without_models();
  auto r = run_process({switchyard_binary(), "generate", "-m", kModels + "/stories260K.bin",
                        "--tokenizer", kModels + "/tok512.bin", "-n", "256"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, kGolden.size()), kGolden);
}

// With a GPU the CUDA pass must give the documented greedy text too; without one (CI) the
// command fails with an error that says so, never a crash.
TEST(GenerateCommand, DeviceCudaGivesGoldenTextOrSaysThereIsNoGpu) {
  skip_without_models();
  auto r = run_process({switchyard_binary(), "generate", "-m", kModels + "/stories260K.gguf", "-n",
                        "256", "--device", "cuda"});
  if (r.exit_code == 0) {
    EXPECT_EQ(r.out.substr(0, kGolden.size()), kGolden);
    return;
  }
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(r.err.find("no CUDA device") != std::string::npos ||
              r.err.find("no CUDA support") != std::string::npos)
      << r.err;
}

TEST(GenerateCommand, EndsWithStatsJsonLineWhenAsked) {
  skip_without_models();
  auto r = run_process({switchyard_binary(), "generate", "-m", kModels + "/stories260K.gguf", "-p",
                        "Once upon a time", "-n", "40", "--ignore-eos", "--temp", "0.8", "--seed",
                        "7", "--stats-json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto stats = nlohmann::json::parse(last_line(r.err));
  // BOS plus the prompt's tokens; --ignore-eos runs to exactly -n.
  EXPECT_GE(stats.at("prompt_tokens").get<int>(), 2);
  EXPECT_EQ(stats.at("gen_tokens").get<int>(), 40);
  EXPECT_GT(stats.at("prompt_tok_s").get<double>(), 0.0);
  EXPECT_GT(stats.at("gen_tok_s").get<double>(), 0.0);
  EXPECT_GT(stats.at("peak_rss_mb").get<double>(), 0.0);
  EXPECT_FALSE(r.out.empty());
}

TEST(GenerateCommand, StatsCountTheSameTokensAsTheTokenizerAndSplitThePhases) {
  skip_without_models();
  const std::string model = kModels + "/stories260K.gguf";
  const std::string prompt = "Once upon a time, there was a little dog named Max.";
  auto tokens = run_process({switchyard_binary(), "model", "tokenize", "-m", model, prompt});
  ASSERT_EQ(tokens.exit_code, 0) << tokens.err;
  const size_t expected = nlohmann::json::parse(last_line(tokens.out)).size();

  auto one = run_process({switchyard_binary(), "generate", "-m", model, "-p", prompt, "-n", "1",
                          "--ignore-eos", "--stats-json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto stats = nlohmann::json::parse(last_line(one.err));
  EXPECT_EQ(stats.at("prompt_tokens").get<size_t>(), expected);
  EXPECT_EQ(stats.at("gen_tokens").get<int>(), 1);
  EXPECT_GT(stats.at("prompt_tok_s").get<double>(), 0.0);
  // One token is sampled from the prompt's logits: no decode pass ran, so no decode speed.
  EXPECT_EQ(stats.at("gen_tok_s").get<double>(), 0.0);
  // The CPU pass read its weights after generating: the benchmarks' ceiling where they lie.
  EXPECT_GT(stats.at("weights_read_gbs").get<double>(), 0.0);
}

TEST(GenerateCommand, ChatRendersThePromptWithTheConfiguredFamilyWhenTheModelHasNoTemplate) {
  skip_without_models();
  const std::string model = kModels + "/stories260K.gguf";
  // `plain`: one "role: content" line per message, then "assistant:".
  auto tokens = run_process({switchyard_binary(), "model", "tokenize", "-m", model,
                             "system: Be brief.\nuser: Once upon a time\nassistant:"});
  ASSERT_EQ(tokens.exit_code, 0) << tokens.err;
  const size_t expected = nlohmann::json::parse(last_line(tokens.out)).size();

  auto r = run_process({switchyard_binary(), "generate", "-m", model, "-p", "Once upon a time",
                        "--chat", "--system", "Be brief.", "--chat-template", "plain", "-n", "4",
                        "--ignore-eos", "--stats-json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no chat template; using the configured family 'plain'"),
            std::string::npos)
      << r.err;
  auto stats = nlohmann::json::parse(last_line(r.err));
  EXPECT_EQ(stats.at("prompt_tokens").get<size_t>(), expected);
  EXPECT_EQ(stats.at("gen_tokens").get<int>(), 4);
}

TEST(GenerateCommand, ChatFailsClearlyWhenTheModelHasNoTemplateAndNoneIsNamed) {
  skip_without_models();
  auto r = run_process({switchyard_binary(), "generate", "-m", kModels + "/stories260K.gguf",
                        "-p", "secret prompt text", "--chat", "-n", "4"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("chat template"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("secret prompt text"), std::string::npos) << r.err;
}

TEST(GenerateCommand, StopSequenceEndsTheTextBeforeIt) {
  skip_without_models();
  auto r = run_process({switchyard_binary(), "generate", "-m", kModels + "/stories260K.gguf",
                        "-n", "200", "--stop", "Lily"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Greedy from BOS: the golden text, cut before its first "Lily".
  EXPECT_EQ(r.out, kGolden.substr(0, kGolden.find("Lily")));
}

TEST(GenerateCommand, SameSeedGivesSameTextWhenSampling) {
  skip_without_models();
  std::vector<std::string> args = {switchyard_binary(),
                                   "generate",
                                   "-m",
                                   kModels + "/stories260K.gguf",
                                   "-n",
                                   "30",
                                   "--temp",
                                   "1.0",
                                   "--seed",
                                   "42"};
  auto a = run_process(args);
  auto b = run_process(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
}

TEST(GenerateCommand, FailsWithClearErrorWhenModelMissing) {
  auto r = run_process({switchyard_binary(), "generate", "-m", "/nonexistent/model.gguf", "-p",
                        "secret prompt text"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("secret prompt text"), std::string::npos) << r.err;
}

TEST(GenerateCommand, FailsWithClearErrorWhenCheckpointHasNoTokenizer) {
  skip_without_models();
  auto r = run_process({switchyard_binary(), "generate", "-m", kModels + "/stories260K.bin"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
}

TEST(GenerateCommand, RejectsFileThatIsNotAModel) {
  testing::TempDir dir;
  auto path = dir.write("not_a_model.gguf", "this is not a gguf file");
  auto r = run_process({switchyard_binary(), "generate", "-m", path.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("loading model"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sy::gateway

namespace sy::gateway {
namespace {

TEST(GenerateCommand, JsonSchemaConstrainsTheOutputToTheSchema) {
  skip_without_models();
  testing::TempDir dir;
  const auto schema = dir.write("schema.json", R"({"type":"object","additionalProperties":false,
      "required":["name","age"],"properties":{"name":{"type":"string","maxLength":12},
      "age":{"type":"integer"}}})");
  auto r = run_process({switchyard_binary(), "generate", "-m", kModels + "/stories260K.gguf",
                        "-p", "Once upon a time", "-n", "120", "--json-schema", schema.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto value = nlohmann::json::parse(r.out);
  ASSERT_TRUE(value.is_object()) << r.out;
  EXPECT_TRUE(value.at("name").is_string());
  EXPECT_TRUE(value.at("age").is_number_integer());
  EXPECT_EQ(value.size(), 2u);
}

TEST(GenerateCommand, JsonFlagGivesAJsonObject) {
  skip_without_models();
  auto r = run_process({switchyard_binary(), "generate", "-m", kModels + "/stories260K.gguf",
                        "-p", "Once upon a time", "-n", "400", "--json", "--temp", "0.8",
                        "--seed", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The object may be cut by -n; when it is whole it parses.
  if (r.out.find_last_of('}') == r.out.size() - 1) {
    EXPECT_TRUE(nlohmann::json::parse(r.out).is_object()) << r.out;
  }
  EXPECT_EQ(r.out.find_first_not_of(" \n"), r.out.find('{')) << r.out;
}

TEST(GenerateCommand, UnsupportedSchemaFailsNamingTheKeyword) {
  skip_without_models();
  testing::TempDir dir;
  const auto schema = dir.write("schema.json", R"({"type":"string","pattern":"^a+$"})");
  auto r = run_process({switchyard_binary(), "generate", "-m", kModels + "/stories260K.gguf",
                        "-p", "x", "--json-schema", schema.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/pattern"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sy::gateway
