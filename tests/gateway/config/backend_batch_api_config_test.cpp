// `batch_api:` on a backend: off by default, `true` or a map with the poll intervals, refused
// on protocols without a vendor batch API.

#include <gtest/gtest.h>

#include <string>

#include "config_test_env.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {
namespace {

using std::chrono::milliseconds;

std::string backend(const std::string& protocol, const std::string& extra) {
  return "backends:\n  - name: b\n    protocol: " + protocol +
         "\n    base_url: https://vendor.example/v1\n" + extra;
}

TEST(BackendBatchApiConfig, IsOffByDefault) {
  auto config = load_config_string(backend("openai", ""), "t.yaml", testing::test_env());
  EXPECT_FALSE(config->backends[0].batch_api.enabled);
}

TEST(BackendBatchApiConfig, AcceptsTrueOrAMapOnOpenAiAndAnthropic) {
  auto on = load_config_string(backend("openai", "    batch_api: true\n"), "t.yaml",
                               testing::test_env());
  EXPECT_TRUE(on->backends[0].batch_api.enabled);
  EXPECT_EQ(on->backends[0].batch_api.poll_initial, milliseconds(5'000));
  auto map = load_config_string(
      backend("anthropic",
              "    batch_api: {poll_initial_ms: 1000, poll_max_ms: 60000, max_requests: 500}\n"),
      "t.yaml", testing::test_env());
  const BackendBatchApiConfig& b = map->backends[0].batch_api;
  EXPECT_TRUE(b.enabled);
  EXPECT_EQ(b.poll_initial, milliseconds(1000));
  EXPECT_EQ(b.poll_max, milliseconds(60000));
  EXPECT_EQ(b.max_requests, 500u);
  auto off = load_config_string(backend("anthropic", "    batch_api: {enabled: false}\n"),
                                "t.yaml", testing::test_env());
  EXPECT_FALSE(off->backends[0].batch_api.enabled);
}

TEST(BackendBatchApiConfig, IsRefusedWhereTheProtocolHasNoBatchApi) {
  try {
    load_config_string(backend("gemini", "    batch_api: true\n"), "t.yaml", testing::test_env());
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("only openai and anthropic backends have a batch API"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sy::gateway
