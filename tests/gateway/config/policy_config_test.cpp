// The policy in the gateway config: `policies:` inline or as a file beside the config, tenant
// attributes rules may test, located errors, and every shipped example under
// examples/policies/ loading into a working router.

#include <gtest/gtest.h>

#include <filesystem>

#include "config_test_env.h"
#include "switchyard/gateway/config_loader.h"
#include "switchyard/policies/router.h"

namespace sy::gateway {
namespace {

using testing::test_env;

std::string load_error(std::string_view text) {
  try {
    load_config_string(text, "test.yaml", test_env());
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

constexpr std::string_view kBackends =
    "backends:\n"
    "  - {name: vendor, protocol: openai, base_url: 'https://api.openai.com/v1', region: us}\n"
    "  - {name: gpu, protocol: openai_compat, kind: local, base_url: 'http://127.0.0.1:8000/v1'}\n";

TEST(PolicyConfig, InlinePoliciesAndTenantAttributes) {
  const std::string text = std::string(kBackends) +
                           "tenants:\n"
                           "  - name: globex\n"
                           "    residency: eu\n"
                           "    sensitivity_floor: confidential\n"
                           "    attributes: {plan: premium}\n"
                           "keys:\n"
                           "  - {id: g, tenant: globex, key: '${ACME_API_KEY}'}\n"
                           "policies:\n"
                           "  rules:\n"
                           "    - name: eu\n"
                           "      when: {tenant: {residency: eu}}\n"
                           "      require: {regions: [eu, local]}\n"
                           "      prefer: [gpu]\n";
  ConfigPtr config = load_config_string(text, "test.yaml", test_env());
  ASSERT_TRUE(config->policy);
  ASSERT_EQ(config->policy->rules.size(), 1u);
  EXPECT_EQ(config->policy->rules[0].where.line, 13);
  EXPECT_EQ(config->policy->source, "test.yaml");
  ASSERT_EQ(config->tenants.size(), 1u);
  EXPECT_EQ(config->tenants[0].residency, "eu");
  EXPECT_EQ(config->tenants[0].sensitivity_floor, policies::SensitivityLevel::confidential);
  ASSERT_EQ(config->tenants[0].attributes.size(), 1u);
  EXPECT_EQ(config->tenants[0].attributes[0].second, "premium");
  EXPECT_EQ(config->backends[1].region, "local");
}

TEST(PolicyConfig, NoPoliciesMeansNoRules) {
  ConfigPtr config = load_config_string(kBackends, "test.yaml", test_env());
  ASSERT_TRUE(config->policy);
  EXPECT_TRUE(config->policy->rules.empty());
  EXPECT_TRUE(default_config(test_env())->policy);
}

TEST(PolicyConfig, ErrorsAreLocatedInTheConfigFile) {
  EXPECT_EQ(load_error(std::string(kBackends) +
                       "policies:\n  rules:\n    - name: r\n      require: {kind: vendor}\n"),
            "test.yaml:7:23: policies.rules[0].require.kind: must be local or closed");
  EXPECT_EQ(load_error(std::string(kBackends) +
                       "policies:\n  rules:\n    - name: r\n      prefer: [gpu, vendr]\n"),
            "test.yaml:7:21: policies.rules[0].prefer[1]: names undefined backend "
            "\"vendr\"");
  EXPECT_EQ(
      load_error(std::string(kBackends) + "tenants:\n  - {name: t, sensitivity_floor: secret}\n"),
      "test.yaml:5:34: tenants[0].sensitivity_floor: must be public, internal, "
      "confidential or restricted");
  EXPECT_EQ(load_error(std::string(kBackends) + "policies: missing-policy.yaml\n"),
            "missing-policy.yaml: cannot open the policy file");
}

// sensitivity.tenants names tenants of this config: a misspelt one is a located error, since
// the real tenant would silently go without its terms.
TEST(PolicyConfig, TenantTermListsNameConfiguredTenants) {
  const std::string tenants = std::string(kBackends) +
                              "tenants:\n"
                              "  - name: acme\n"
                              "keys:\n"
                              "  - {id: a, tenant: acme, key: '${ACME_API_KEY}'}\n"
                              "policies:\n"
                              "  sensitivity:\n"
                              "    tenants:\n";
  ConfigPtr config =
      load_config_string(tenants + "      acme: {terms: [{name: customers, terms: [Initech]}]}\n",
                         "test.yaml", test_env());
  ASSERT_EQ(config->policy->tenant_sensitivity.size(), 1u);
  EXPECT_EQ(config->policy->tenant_sensitivity[0].where.term_lists[0].line, 11);
  EXPECT_EQ(load_error(tenants + "      acne: {terms: [{name: customers, terms: [Initech]}]}\n"),
            "test.yaml:11:7: policies.sensitivity.tenants.acne: names undefined tenant \"acne\"");
}

TEST(PolicyConfig, EveryShippedExampleLoadsIntoARouter) {
  const auto dir = std::filesystem::path(SWITCHYARD_SOURCE_DIR) / "examples/policies";
  size_t configs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".yaml" || name.ends_with("_policy.yaml")) continue;
    SCOPED_TRACE(name);
    ++configs;
    ConfigPtr config =
        load_config_file(entry.path(), test_env({{"GLOBEX_API_KEY", "sy-globex-secret"},
                                                 {"VAULT_API_KEY", "sy-vault-secret-key"}}));
    ASSERT_TRUE(config->policy);
    EXPECT_FALSE(config->policy->rules.empty());
    auto router = policies::Router::create(config->policy);
    EXPECT_TRUE(router) << (router ? "" : router.error());
  }
  EXPECT_GE(configs, 3u);
}

}  // namespace
}  // namespace sy::gateway
