// `usage:` — how many GET /v1/usage ledger queries may run at once (default 2), range-checked.

#include <gtest/gtest.h>

#include "config_test_env.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {
namespace {

using testing::test_env;

TEST(UsageApiConfig, DefaultsToTwoQueriesAndReadsTheLimit) {
  EXPECT_EQ(load_config_string("", "u.yaml", test_env())->usage.max_concurrent_queries, 2);
  const ConfigPtr config =
      load_config_string("usage:\n  max_concurrent_queries: 5\n", "u.yaml", test_env());
  EXPECT_EQ(config->usage.max_concurrent_queries, 5);
}

TEST(UsageApiConfig, RejectsAnOutOfRangeLimitAndUnknownKeys) {
  for (const char* text : {"usage:\n  max_concurrent_queries: 0\n",
                           "usage:\n  max_concurrent_queries: many\n", "usage:\n  queries: 3\n"}) {
    try {
      load_config_string(text, "u.yaml", test_env());
      ADD_FAILURE() << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("usage"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace sy::gateway
