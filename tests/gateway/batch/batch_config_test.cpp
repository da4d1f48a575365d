// The `batch:` config section: defaults, every key, and refusals naming the key.

#include <gtest/gtest.h>

#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {
namespace {

EnvLookup no_env() {
  return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

TEST(BatchConfig, DefaultsWhenAbsent) {
  ConfigPtr config = load_config_string("listen: 127.0.0.1:0\n", "t.yaml", no_env());
  EXPECT_TRUE(config->batch.enabled);
  EXPECT_EQ(config->batch.path, "batches");
  EXPECT_EQ(config->batch.max_file_bytes, 200u * 1024 * 1024);
  EXPECT_EQ(config->batch.max_lines, 50'000u);
  EXPECT_EQ(config->batch.max_concurrency_per_job, 4);
  EXPECT_FALSE(config->batch.synchronous_full);
}

TEST(BatchConfig, ReadsEveryKey) {
  ConfigPtr config = load_config_string(
      "batch:\n  enabled: false\n  path: /var/jobs\n  max_file_bytes: 1024\n  max_lines: 10\n"
      "  max_concurrency_per_job: 16\n  synchronous: full\n",
      "t.yaml", no_env());
  EXPECT_FALSE(config->batch.enabled);
  EXPECT_EQ(config->batch.path, "/var/jobs");
  EXPECT_EQ(config->batch.max_file_bytes, 1024u);
  EXPECT_EQ(config->batch.max_lines, 10u);
  EXPECT_EQ(config->batch.max_concurrency_per_job, 16);
  EXPECT_TRUE(config->batch.synchronous_full);
}

TEST(BatchConfig, RefusesUnknownKeysAndBadValuesByName) {
  for (const auto& [text, needle] :
       {std::pair<std::string, std::string>{"batch:\n  max_concurency_per_job: 2\n",
                                            "max_concurency_per_job"},
        {"batch:\n  max_concurrency_per_job: 0\n", "batch.max_concurrency_per_job"},
        {"batch:\n  synchronous: sometimes\n", "batch.synchronous"}}) {
    try {
      load_config_string(text, "t.yaml", no_env());
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace sy::gateway
