#include "switchyard/gateway/config_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config_test_env.h"
#include "switchyard/gateway/sha256.h"

namespace sy::gateway {
namespace {

using std::chrono::milliseconds;
using testing::test_env;
using testing::test_env_values;

const std::filesystem::path kFixtures = std::filesystem::path(SWITCHYARD_FIXTURES_DIR) / "config";

// The message of the ConfigError that loading `text` throws ("" if it loads).
std::string load_error(std::string_view text, const EnvLookup& env = test_env()) {
  try {
    load_config_string(text, "test.yaml", env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

constexpr std::string_view kOneBackend =
    "backends:\n"
    "  - name: openai\n"
    "    protocol: openai\n"
    "    base_url: https://api.openai.com/v1\n";

TEST(ConfigLoader, LoadsEveryKeyOfTheFullFixture) {
  const ConfigPtr config = load_config_file(kFixtures / "valid_full.yaml", test_env());
  EXPECT_EQ(config->source, (kFixtures / "valid_full.yaml").string());
  EXPECT_EQ(config->listen.host, "::1");
  EXPECT_EQ(config->listen.port, 0);
  EXPECT_EQ(config->data_dir, "/var/lib/switchyard-test");
  EXPECT_EQ(config->max_upstream_response_bytes, 1048576u);

  const ServerLimits& limits = config->limits;
  EXPECT_EQ(limits.max_body_bytes, 1000u);
  EXPECT_EQ(limits.max_header_bytes, 2000u);
  EXPECT_EQ(limits.header_timeout, milliseconds(11));
  EXPECT_EQ(limits.body_timeout, milliseconds(12));
  EXPECT_EQ(limits.idle_timeout, milliseconds(13));
  EXPECT_EQ(limits.max_connections, 14u);
  EXPECT_EQ(limits.max_pipelined, 15u);
  EXPECT_EQ(limits.drain_timeout, milliseconds(16));
  EXPECT_EQ(limits.io_threads, 3);
  EXPECT_EQ(limits.busy_poll, std::chrono::microseconds(17));

  ASSERT_EQ(config->backends.size(), 3u);
  const BackendConfig& openai = config->backends[0];
  EXPECT_EQ(openai.name, "openai");
  EXPECT_EQ(openai.protocol, "openai");
  EXPECT_EQ(openai.kind, backends::BackendKind::closed);
  EXPECT_EQ(openai.endpoint.base_url, "https://api.openai.com/v1");  // trailing "/" dropped
  EXPECT_EQ(openai.endpoint.api_key, "sk-openai-test-secret-1234");
  EXPECT_EQ(openai.region, "us");
  EXPECT_TRUE(openai.retains_data);
  EXPECT_EQ(openai.capability_tier, 3);
  EXPECT_EQ(openai.models, (std::vector<std::string>{"gpt-4o", "gpt-4o-mini"}));
  EXPECT_EQ(openai.prices.input_per_mtok, 150'000);
  EXPECT_EQ(openai.prices.output_per_mtok, 600'000);
  EXPECT_EQ(openai.prices.cached_input_per_mtok, 75'000);
  EXPECT_EQ(openai.prices.cache_write_per_mtok, 3'000'000);
  EXPECT_EQ(openai.timeouts.connect, milliseconds(21));
  EXPECT_EQ(openai.timeouts.first_byte, milliseconds(22));
  EXPECT_EQ(openai.timeouts.idle, milliseconds(23));
  EXPECT_EQ(openai.timeouts.total, milliseconds(24));
  EXPECT_EQ(openai.retry.max_attempts, 4);
  EXPECT_EQ(openai.retry.initial_backoff, milliseconds(5));
  EXPECT_EQ(openai.retry.max_backoff, milliseconds(50));
  EXPECT_EQ(openai.retry.max_retry_after, milliseconds(500));
  EXPECT_EQ(openai.breaker.failure_threshold, 2);
  EXPECT_EQ(openai.breaker.open_for, milliseconds(100));
  EXPECT_EQ(openai.max_concurrency, 8);
  EXPECT_FALSE(openai.verify_tls);

  const BackendConfig& azure = config->backends[1];
  EXPECT_EQ(azure.protocol, "azure");
  EXPECT_EQ(azure.endpoint.api_key, "azure-default-key");
  EXPECT_EQ(azure.endpoint.api_version, "2024-10-21");
  ASSERT_EQ(azure.endpoint.headers.size(), 1u);
  EXPECT_EQ(azure.endpoint.headers[0].first, "x-tag");  // header names are lower-cased
  EXPECT_EQ(azure.endpoint.headers[0].second, "team-core");
  EXPECT_EQ(azure.region, "eu");
  EXPECT_TRUE(azure.verify_tls);
  EXPECT_EQ(azure.retry.max_attempts, backends::RetryPolicy{}.max_attempts);

  const BackendConfig& pool = config->backends[2];
  EXPECT_EQ(pool.kind, backends::BackendKind::local);
  EXPECT_EQ(pool.region, "local");

  ASSERT_EQ(config->models.size(), 2u);
  EXPECT_EQ(config->models[0].name, "fast");
  ASSERT_EQ(config->models[0].targets.size(), 2u);
  EXPECT_EQ(config->models[0].targets[0].backend, "openai");
  EXPECT_EQ(config->models[0].targets[0].model, "gpt-4o-mini");
  EXPECT_EQ(config->models[0].targets[1].backend, "azure-eu");
  EXPECT_EQ(config->models[0].targets[1].model, "gpt-4o-mini");
  EXPECT_EQ(config->models[1].name, "local");
  ASSERT_EQ(config->models[1].targets.size(), 1u);
  EXPECT_EQ(config->models[1].targets[0].backend, "pool");
  EXPECT_EQ(config->models[1].targets[0].model, "org/model-8b");

  ASSERT_EQ(config->tenants.size(), 2u);
  EXPECT_EQ(config->tenants[0].name, "acme");
  EXPECT_EQ(config->tenants[0].allowed_models, std::vector<std::string>{"fast"});
  EXPECT_TRUE(config->tenants[1].allowed_models.empty());

  ASSERT_EQ(config->keys.size(), 2u);
  EXPECT_EQ(config->keys[0].id, "acme-1");
  EXPECT_EQ(config->keys[0].tenant, "acme");
  EXPECT_EQ(config->keys[0].role, KeyRole::user);
  EXPECT_EQ(config->keys[0].sha256_hex, sha256_hex("sy-acme-test-secret-key"));
  EXPECT_EQ(config->keys[1].role, KeyRole::admin);
  // key_sha256 is normalised to lower case.
  EXPECT_EQ(config->keys[1].sha256_hex,
            "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8");
  EXPECT_TRUE(config->requires_keys());
}

TEST(ConfigLoader, KeepsOnlyTheDigestOfAPlainKey) {
  const ConfigPtr config = load_config_file(kFixtures / "valid_full.yaml", test_env());
  const std::string secret = test_env_values().at("ACME_API_KEY");
  for (const ApiKeyConfig& key : config->keys) {
    EXPECT_EQ(key.id.find(secret), std::string::npos);
    EXPECT_EQ(key.sha256_hex.find(secret), std::string::npos);
    EXPECT_EQ(key.tenant.find(secret), std::string::npos);
  }
  EXPECT_EQ(config->keys[0].sha256_hex.size(), 64u);
}

TEST(ConfigLoader, LoadsTheDocumentedExample) {
  const std::filesystem::path example =
      std::filesystem::path(SWITCHYARD_SOURCE_DIR) / "examples" / "switchyard.yaml";
  const ConfigPtr config = load_config_file(example, test_env());
  EXPECT_EQ(config->listen.host, "127.0.0.1");
  EXPECT_EQ(config->listen.port, 8080);
  EXPECT_EQ(config->data_dir, "/home/tester/.local/share/switchyard");
  EXPECT_EQ(config->backends.size(), 5u);
  EXPECT_EQ(config->models.size(), 3u);
  EXPECT_EQ(config->tenants.size(), 2u);
  EXPECT_EQ(config->keys.size(), 2u);
  ASSERT_EQ(config->backends[0].pricing.models.size(), 2u);
  EXPECT_EQ(config->backends[0].pricing.models[0].periods[0].input.micro_dollars, 2'500'000);
  EXPECT_EQ(config->backends[0].pricing.models[0].periods[0].batch_discount_bp, 5'000);
  EXPECT_EQ(config->backends[1].pricing.catalog, "anthropic");
  EXPECT_TRUE(config->backends[4].pricing.hardware.has_value());
  EXPECT_EQ(config->tenants[0].baseline, "openai/gpt-4o");
  EXPECT_EQ(config->pricing.baseline, "openai/gpt-4o");
  EXPECT_EQ(config->backends[2].endpoint.api_key, "");  // ${GEMINI_API_KEY:-}
}

TEST(ConfigLoader, ExampleOverridesListenFromTheEnvironment) {
  const std::filesystem::path example =
      std::filesystem::path(SWITCHYARD_SOURCE_DIR) / "examples" / "switchyard.yaml";
  const ConfigPtr config =
      load_config_file(example, test_env({{"SWITCHYARD_LISTEN", "0.0.0.0:9999"}}));
  EXPECT_EQ(config->listen.host, "0.0.0.0");
  EXPECT_EQ(config->listen.port, 9999);
}

struct InvalidCase {
  std::string file;
  std::string expected;
};

std::vector<InvalidCase> invalid_cases() {
  std::vector<InvalidCase> cases;
  for (const auto& entry : std::filesystem::directory_iterator(kFixtures / "invalid")) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream in(entry.path());
    std::string first_line;
    std::getline(in, first_line);
    constexpr std::string_view kPrefix = "# expect: ";
    if (!first_line.starts_with(kPrefix)) {
      ADD_FAILURE() << entry.path() << ": first line must be \"# expect: <message substring>\"";
      continue;
    }
    cases.push_back({entry.path().string(), first_line.substr(kPrefix.size())});
  }
  std::sort(cases.begin(), cases.end(),
            [](const InvalidCase& a, const InvalidCase& b) { return a.file < b.file; });
  return cases;
}

TEST(ConfigLoader, RejectsEveryInvalidFixtureWithALocatedMessage) {
  const std::vector<InvalidCase> cases = invalid_cases();
  ASSERT_GE(cases.size(), 30u);
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.file);
    std::string message;
    try {
      load_config_file(c.file, test_env());
      ADD_FAILURE() << "loaded without error";
      continue;
    } catch (const ConfigError& e) {
      message = e.what();
    }
    // The file's own path leads the message: "<path>:<line>:<column>: <key path>: <what>".
    EXPECT_TRUE(message.starts_with(c.file + ":")) << message;
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << "expected: " << c.expected << "\nactual:   " << message;
    for (const auto& [name, value] : test_env_values()) {
      if (value.size() >= 8) {
        EXPECT_EQ(message.find(value), std::string::npos) << name;
      }
    }
    EXPECT_EQ(message.find("hunter2"), std::string::npos);
  }
}

TEST(ConfigLoader, SubstitutesEnvironmentVariablesInStrings) {
  const ConfigPtr config = load_config_string(
      "backends:\n"
      "  - name: b\n"
      "    protocol: openai_compat\n"
      "    base_url: http://${HOST:-127.0.0.1}:${PORT}/v1\n"
      "    api_key: pre-${EMPTY:-fallback}-$${LITERAL}-${EMPTY}\n"
      "limits:\n"
      "  io_threads: ${THREADS:-2}\n",
      "env.yaml", test_env({{"PORT", "8123"}}));
  EXPECT_EQ(config->backends[0].endpoint.base_url, "http://127.0.0.1:8123/v1");
  EXPECT_EQ(config->backends[0].endpoint.api_key, "pre-fallback-${LITERAL}-");
  EXPECT_EQ(config->limits.io_threads, 2);
}

TEST(ConfigLoader, NamesTheMissingVariableAndKeyWithoutAnyValue) {
  const std::string message = load_error(
      "backends:\n"
      "  - name: b\n"
      "    protocol: openai\n"
      "    base_url: https://api.openai.com/v1\n"
      "    api_key: \"${OPENAI_API_KEY}${NOT_SET}\"\n");
  EXPECT_NE(message.find("test.yaml:5:14: backends[0].api_key: environment variable NOT_SET "
                         "is not set"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find(test_env_values().at("OPENAI_API_KEY")), std::string::npos);
}

TEST(ConfigLoader, RejectsAMalformedVariableReference) {
  EXPECT_NE(load_error("data_dir: ${1BAD}\n").find("must name an environment variable"),
            std::string::npos);
  EXPECT_NE(load_error("data_dir: ${NAME-x}\n").find("expected \"}\" or \":-default}\""),
            std::string::npos);
}

TEST(ConfigLoader, ConvertsPricesToExactMicroDollars) {
  struct Case {
    std::string text;
    int64_t micro;
  };
  const std::vector<Case> cases = {
      {"0.15", 150'000},
      {"\"0.15\"", 150'000},
      {"0.1", 100'000},
      {"0.3", 300'000},
      {"2.50", 2'500'000},
      {"10", 10'000'000},
      {"0", 0},
      {".5", 500'000},
      {"3.", 3'000'000},
      {"0.000001", 1},
      {"1.2300000", 1'230'000},
      {"75.000001", 75'000'001},
      {"1000000", 1'000'000'000'000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const ConfigPtr config = load_config_string(
        std::string(kOneBackend) + "    prices: {input: " + c.text + "}\n", "p.yaml", test_env());
    EXPECT_EQ(config->backends[0].prices.input_per_mtok, c.micro);
  }
  for (std::string bad : {"0.0000001", "-0.1", "1e-3", "0x10", "abc", "1.2.3", "\"\"", "."}) {
    SCOPED_TRACE(bad);
    EXPECT_NE(load_error(std::string(kOneBackend) + "    prices: {input: " + bad + "}\n")
                  .find("prices.input: must be a non-negative decimal number"),
              std::string::npos);
  }
}

TEST(ConfigLoader, ParsesListenAddresses) {
  struct Case {
    std::string text;
    std::string host;
    uint16_t port;
  };
  for (const Case& c : std::vector<Case>{{"127.0.0.1:0", "127.0.0.1", 0},
                                         {"0.0.0.0:65535", "0.0.0.0", 65535},
                                         {"localhost:8080", "localhost", 8080},
                                         {"[::]:443", "::", 443},
                                         {"[fe80::1%eth0]:80", "fe80::1%eth0", 80}}) {
    SCOPED_TRACE(c.text);
    const ConfigPtr config =
        load_config_string("listen: \"" + c.text + "\"\n", "l.yaml", test_env());
    EXPECT_EQ(config->listen.host, c.host);
    EXPECT_EQ(config->listen.port, c.port);
  }
  for (std::string bad : {":8080", "host:", "[::1]8080", "[]:80", "[::1]:", "h:1:2", "h:-1",
                          "h:8o80", "[not-v6]:80"}) {
    SCOPED_TRACE(bad);
    EXPECT_NE(load_error("listen: \"" + bad + "\"\n").find("test.yaml:1:9: listen: "),
              std::string::npos);
  }
}

TEST(ConfigLoader, EmptyDocumentGivesDefaults) {
  const ConfigPtr config = load_config_string("# nothing\n", "empty.yaml", test_env());
  EXPECT_EQ(config->source, "empty.yaml");
  EXPECT_EQ(config->listen.port, 8080);
  EXPECT_TRUE(config->backends.empty());
  EXPECT_FALSE(config->requires_keys());
  EXPECT_EQ(config->data_dir, "/home/tester/.local/share/switchyard");
}

TEST(ConfigLoader, DefaultConfigListensLocallyWithNoKeys) {
  const ConfigPtr config = default_config(test_env());
  EXPECT_EQ(config->source, "");
  EXPECT_EQ(config->listen.host, "127.0.0.1");
  EXPECT_EQ(config->listen.port, 8080);
  EXPECT_TRUE(config->backends.empty());
  EXPECT_TRUE(config->tenants.empty());
  EXPECT_FALSE(config->requires_keys());
  EXPECT_EQ(config->data_dir, "/home/tester/.local/share/switchyard");
}

TEST(ConfigLoader, DataDirPrefersAnAbsoluteXdgDataHome) {
  EXPECT_EQ(default_data_dir(test_env({{"XDG_DATA_HOME", "/xdg"}})), "/xdg/switchyard");
  // A relative XDG_DATA_HOME is invalid per the spec and ignored.
  EXPECT_EQ(default_data_dir(test_env({{"XDG_DATA_HOME", "rel"}})),
            "/home/tester/.local/share/switchyard");
  EXPECT_EQ(default_config(test_env({{"XDG_DATA_HOME", "/xdg"}}))->data_dir, "/xdg/switchyard");
}

TEST(ConfigLoader, ReportsAMissingFileByName) {
  try {
    load_config_file(kFixtures / "does_not_exist.yaml", test_env());
    FAIL() << "loaded a missing file";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("does_not_exist.yaml: cannot open"), std::string::npos);
  }
}

TEST(ConfigLoader, ConfigErrorIsARuntimeError) {
  EXPECT_THROW(load_config_string("listen: nope\n", "x.yaml", test_env()), std::runtime_error);
}

}  // namespace
}  // namespace sy::gateway
