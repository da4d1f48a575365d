// `switchyard bench` on stories260K through the real serving engine: it measures, prints, and
// writes the figures into the config's hardware section, leaving every other byte of the file
// as it was; the gateway's pricing then reads them. --no-write leaves the file alone.

#include <gtest/gtest.h>

#include <regex>

#include "cli/bench_command.h"
#include "gateway/cli/cli_process.h"
#include "gateway/cli/temp_dir.h"
#include "ledger/request_pricer.h"
#include "switchyard/gateway/config_loader.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/serving_engine.h"

namespace sy::gateway {
namespace {

const std::string kStories = std::string(SWITCHYARD_MODELS_DIR) + "/stories260K/stories260K.gguf";

std::string config_text() {
  return "# lab config\n"
         "backends:\n"
         "  - name: local   # the embedded engine\n"
         "    protocol: local\n"
         "    memory_budget: 1GiB\n"
         "    models:\n"
         "      - name: stories\n"
         "        path: " +
         kStories +
         "\n"
         "        chat_template: plain\n"
         "        kv_budget: 16MiB\n"
         "        threads: 1\n"
         "    hardware:\n"
         "      cost_per_hour: \"0.90\"   # a small box\n"
         "      tokens_per_second: 1      # placeholder until bench runs\n"
         "\n"
         "models:\n"
         "  tiny: local/stories\n";
}

TEST(BenchCommand, MeasuresAndWritesTheThroughputKeepingTheRestOfTheFile) {
  testing::TempDir dir;
  const auto path = dir.write("switchyard.yaml", config_text());
  auto r = testing::run_process({testing::switchyard_binary(), "bench", "--config", path.string(),
                                 "-n", "4", "--prompt-tokens", "32", "--tokens", "32"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(decode: +(\d+) tokens/s)"))) << r.out;
  const int64_t decode = std::stoll(m[1]);
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(prefill: (\d+) tokens/s)"))) << r.out;
  const int64_t prefill = std::stoll(m[1]);
  EXPECT_GT(decode, 1);
  EXPECT_GT(prefill, 1);

  const std::string written = testing::read_file(path);
  // Only the value changed, and the missing prefill key came in under it.
  std::string expected = config_text();
  const std::string placeholder =
      "      tokens_per_second: 1      # placeholder until bench runs\n";
  expected.replace(expected.find(placeholder), placeholder.size(),
                   "      tokens_per_second: " + std::to_string(decode) +
                       "      # placeholder until bench runs\n" +
                       "      prompt_tokens_per_second: " + std::to_string(prefill) + "\n");
  EXPECT_EQ(written, expected);

  // The pricing reads the figure: (cost_per_hour) / (tokens/s * 3600) per generated token.
  ConfigPtr config = load_config_file(path);
  RequestPricer pricer(*config);
  const auto day = utc_day(std::chrono::system_clock::now());
  std::string source;
  const backends::PriceTerms* terms = pricer.terms("local", "stories", day, &source);
  ASSERT_NE(terms, nullptr);
  EXPECT_EQ(source, "hardware");
  EXPECT_EQ(terms->output, (backends::TokenRate{900'000, decode * 3600}));
  EXPECT_EQ(terms->input, (backends::TokenRate{900'000, prefill * 3600}));
}

TEST(BenchCommand, FirstBenchFillsAHardwareSectionThatHasOnlyItsCost) {
  testing::TempDir dir;
  std::string text = config_text();
  const std::string block =
      "    hardware:\n"
      "      cost_per_hour: \"0.90\"   # a small box\n"
      "      tokens_per_second: 1      # placeholder until bench runs\n";
  text.replace(text.find(block), block.size(), "    hardware: {cost_per_hour: \"0.90\"}\n");
  const auto path = dir.write("switchyard.yaml", text);
  auto r = testing::run_process({testing::switchyard_binary(), "bench", "--config", path.string(),
                                 "-n", "2", "--prompt-tokens", "16", "--tokens", "16"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string written = testing::read_file(path);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      written, m,
      std::regex(R"(hardware: \{cost_per_hour: "0.90", tokens_per_second: (\d+), )"
                 R"(prompt_tokens_per_second: (\d+)\}\n)")))
      << written;
  EXPECT_EQ(written.substr(0, m.position(0)), text.substr(0, m.position(0)));
  ConfigPtr config = load_config_file(path);
  EXPECT_EQ(config->backends[0].pricing.hardware->output_tokens_per_second, std::stoll(m[1]));
}

TEST(BenchCommand, NoWriteLeavesTheConfigAlone) {
  testing::TempDir dir;
  const auto path = dir.write("switchyard.yaml", config_text());
  auto r =
      testing::run_process({testing::switchyard_binary(), "bench", "--config", path.string(), "-n",
                            "2", "--prompt-tokens", "16", "--tokens", "16", "--no-write"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("decode:"), std::string::npos);
  EXPECT_EQ(testing::read_file(path), config_text());
}

TEST(BenchCommand, SaysWhatIsWrongWithoutALocalBackend) {
  testing::TempDir dir;
  const auto path = dir.write("switchyard.yaml", "listen: 127.0.0.1:0\n");
  auto r = testing::run_process({testing::switchyard_binary(), "bench", "--config", path.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no local backend"), std::string::npos) << r.err;
}

TEST(ThroughputBench, CountsTheDecodeWindowOfEverySequence) {
  auto model = engine::Model::load(kStories);
  engine::ServingOptions options;
  options.kv_budget_bytes = 16u << 20;
  options.threads = 1;
  BenchResult result = run_throughput_bench(
      *model, options, {.sequences = 3, .prompt_tokens = 20, .generated_tokens = 10});
  // Once all 3 generate, at most 9 tokens each remain (the first came before the window).
  EXPECT_GT(result.decode_window_tokens, 0u);
  EXPECT_LE(result.decode_window_tokens, 27u);
  EXPECT_GT(result.output_tokens_per_second, 0);
  EXPECT_GT(result.prompt_tokens_per_second, 0);
  EXPECT_THROW(
      run_throughput_bench(*model, options,
                           {.sequences = 1, .prompt_tokens = 4000, .generated_tokens = 10}),
      std::runtime_error);
}

}  // namespace
}  // namespace sy::gateway
