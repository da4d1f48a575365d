// `protocol: local` backends in the config: models, sizes, the memory budget check, and errors
// that name file, line and key.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "config_test_env.h"
#include "gateway/cli/temp_dir.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {
namespace {

using testing::TempDir;
using testing::test_env;

const std::string kStories = std::string(SWITCHYARD_MODELS_DIR) + "/stories260K/stories260K.gguf";

std::string load_error(std::string_view text, std::string source = "test.yaml") {
  try {
    load_config_string(text, std::move(source), test_env());
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string local_backend(std::string models, std::string extra = "") {
  return "backends:\n"
         "  - name: local\n"
         "    protocol: local\n" +
         extra + "    models:\n" + models;
}

TEST(LocalBackendConfig, LoadsModelsWithEveryKey) {
  const ConfigPtr config =
      load_config_string(local_backend("      - name: stories\n"
                                       "        path: " +
                                           kStories +
                                           "\n"
                                           "        chat_template: plain\n"
                                           "        kv_budget: 8MiB\n"
                                           "        threads: 2\n"
                                           "        max_running: 4\n"
                                           "        max_waiting: 9\n"
                                           "        load: lazy\n"
                                           "        retry_load_ms: 250\n"
                                           "        request_timeout_ms: 30000\n"
                                           "        context_length: 512\n"
                                           "      - {name: stories-too, path: \"" +
                                           kStories + "\"}\n",
                                       "    memory_budget: 1GiB\n") +
                             "models:\n  tiny: local/stories\n",
                         "test.yaml", test_env());
  ASSERT_EQ(config->backends.size(), 1u);
  const BackendConfig& b = config->backends[0];
  EXPECT_EQ(b.protocol, "local");
  EXPECT_EQ(b.kind, backends::BackendKind::local);
  EXPECT_EQ(b.region, "local");
  EXPECT_EQ(b.models, (std::vector<std::string>{"stories", "stories-too"}));
  EXPECT_EQ(b.local.memory_budget_bytes, 1u << 30);
  ASSERT_EQ(b.local.models.size(), 2u);
  const backends::LocalModelSpec& m = b.local.models[0];
  EXPECT_EQ(m.name, "stories");
  EXPECT_EQ(m.path, kStories);
  EXPECT_EQ(m.chat_template, "plain");
  EXPECT_EQ(m.kv_budget_bytes, 8u << 20);
  EXPECT_EQ(m.threads, 2u);
  EXPECT_EQ(m.max_running, 4u);
  EXPECT_EQ(m.max_waiting, 9u);
  EXPECT_TRUE(m.lazy);
  EXPECT_EQ(m.retry_load_after, std::chrono::milliseconds(250));
  EXPECT_EQ(m.request_timeout, std::chrono::milliseconds(30000));
  EXPECT_EQ(m.context_length, 512u);
  const backends::LocalModelSpec& defaults = b.local.models[1];
  EXPECT_EQ(defaults.kv_budget_bytes, 256u << 20);
  EXPECT_FALSE(defaults.lazy);
  EXPECT_EQ(defaults.retry_load_after, std::chrono::milliseconds(10000));
  EXPECT_EQ(defaults.request_timeout, std::chrono::milliseconds(0));
  EXPECT_EQ(defaults.chat_template, "");
  ASSERT_EQ(config->models.size(), 1u);
  EXPECT_EQ(config->models[0].targets[0].model, "stories");
}

TEST(LocalBackendConfig, RelativeModelPathsAreRelativeToTheConfigFile) {
  TempDir dir;
  dir.write("tiny.gguf", "not really a model: the loader only checks it is there");
  const auto config_path =
      dir.write("switchyard.yaml", local_backend("      - {name: tiny, path: tiny.gguf, "
                                                 "kv_budget: 64KiB}\n"));
  const ConfigPtr config = load_config_file(config_path, test_env());
  EXPECT_EQ(config->backends[0].local.models[0].path, dir / "tiny.gguf");
}

TEST(LocalBackendConfig, SizesTakeUnits) {
  for (const auto& [text, bytes] :
       std::vector<std::pair<std::string, uint64_t>>{{"65536", 65536},
                                                     {"64KiB", 65536},
                                                     {"1.5 MiB", 1572864},
                                                     {"2MB", 2000000},
                                                     {"1GiB", 1u << 30}}) {
    const ConfigPtr config =
        load_config_string(local_backend("      - {name: s, path: \"" + kStories +
                                         "\", kv_budget: \"" + text + "\"}\n"),
                           "test.yaml", test_env());
    EXPECT_EQ(config->backends[0].local.models[0].kv_budget_bytes, bytes) << text;
  }
  EXPECT_EQ(load_error(local_backend("      - {name: s, path: \"" + kStories +
                                     "\", kv_budget: 8 parsecs}\n")),
            "test.yaml:5:" + std::to_string(40 + kStories.size()) +
                ": backends[0].models[0].kv_budget: must be a size in bytes, e.g. "
                "268435456, \"256MiB\" or \"1.5GiB\" (units KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
}

TEST(LocalBackendConfig, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(load_error(local_backend("      - {name: s, path: /nowhere/m.gguf}\n")),
            "test.yaml:5:25: backends[0].models[0].path: no model file at /nowhere/m.gguf");
  EXPECT_EQ(
      load_error(
          local_backend("      - {name: s, path: \"" + kStories + "\", chat_template: chatmll}\n")),
      "test.yaml:5:" + std::to_string(44 + kStories.size()) +
          ": backends[0].models[0].chat_template: unknown chat template family \"chatmll\" (one "
          "of chatml, llama3, llama2, mistral, gemma, phi3, plain) (did you mean \"chatml\"?)");
  EXPECT_NE(load_error(local_backend("      - {name: s, path: \"" + kStories + "\", load: now}\n"))
                .find("backends[0].models[0].load: must be start or lazy"),
            std::string::npos);
  EXPECT_NE(load_error(local_backend("      - stories\n"))
                .find("test.yaml:5:9: backends[0].models[0]: a local model is a mapping"),
            std::string::npos);
  EXPECT_NE(load_error(local_backend("      - {name: s, path: \"" + kStories + "\"}\n" +
                                     "      - {name: s, path: \"" + kStories + "\"}\n"))
                .find("backends[0].models[1].name: duplicate model \"s\""),
            std::string::npos);
  EXPECT_NE(load_error(local_backend("      - {name: s, path: \"" + kStories + "\"}\n",
                                     "    base_url: http://x\n"))
                .find("test.yaml:4:15: backends[0].base_url: does not apply to a local backend"),
            std::string::npos);
  EXPECT_NE(load_error("backends:\n  - {name: l, protocol: local}\n")
                .find("backends[0]: missing required key \"models\""),
            std::string::npos);
  EXPECT_NE(
      load_error("backends:\n  - {name: l, protocol: locale}\n").find("(did you mean \"local\"?)"),
      std::string::npos);
}

TEST(LocalBackendConfig, ModelsThatDoNotFitTheMemoryBudgetAreRefusedBeforeLoading) {
  const std::string message = load_error(
      local_backend("      - {name: a, path: \"" + kStories + "\", kv_budget: 1MiB}\n" +
                        "      - {name: b, path: \"" + kStories + "\", kv_budget: 1MiB}\n",
                    "    memory_budget: 3MiB\n"));
  EXPECT_EQ(message,
            "test.yaml:7:9: backends[0].models[1]: model \"b\" does not fit: file 1.1 MiB + "
            "kv_budget 1 MiB, after 2.1 MiB for the models before it, is over memory_budget "
            "3 MiB; lower kv_budget, use a smaller quantization, or raise memory_budget");
}

TEST(LocalBackendConfig, WithoutABudgetTheMachinesAvailableMemoryIsTheLimit) {
  if (!backends::available_memory_bytes()) GTEST_SKIP() << "no /proc/meminfo";
  TempDir dir;
  // A sparse file as large as no test machine's memory: its size is what is checked.
  const auto huge = dir / "huge.gguf";
  { std::ofstream(huge).put('x'); }
  std::error_code ec;
  std::filesystem::resize_file(huge, uint64_t{1} << 42, ec);
  if (ec) GTEST_SKIP() << "cannot make a sparse file here: " << ec.message();
  const std::string message =
      load_error(local_backend("      - {name: huge, path: \"" + huge.string() + "\"}\n"));
  EXPECT_NE(message.find("model \"huge\" does not fit: file 4 TiB + kv_budget 256 MiB is over "
                         "the "),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("of memory available now"), std::string::npos) << message;
}

TEST(LocalBackendConfig, TheShippedExampleLoads) {
  const auto example = std::filesystem::path(SWITCHYARD_SOURCE_DIR) / "examples" / "local.yaml";
  if (!std::filesystem::exists(example.parent_path() / "../../shared/models/stories260K")) {
    GTEST_SKIP() << "the example names the development checkout's model";
  }
  const ConfigPtr config = load_config_file(example, test_env());
  ASSERT_EQ(config->backends.size(), 1u);
  const BackendConfig& b = config->backends[0];
  EXPECT_EQ(b.local.models.at(0).name, "stories260K");
  EXPECT_EQ(b.local.models.at(0).kv_budget_bytes, 64u << 20);
  EXPECT_TRUE(b.pricing.hardware);
  EXPECT_EQ(config->models.at(0).name, "tiny");
}

}  // namespace
}  // namespace sy::gateway
