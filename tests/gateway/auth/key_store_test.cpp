#include "switchyard/gateway/key_store.h"

#include <gtest/gtest.h>

#include "switchyard/gateway/config_loader.h"
#include "switchyard/gateway/sha256.h"

namespace sy::gateway {
namespace {

using backends::ErrorKind;
using backends::Headers;

constexpr std::string_view kUserKey = "sy-user-key-0001";
constexpr std::string_view kAdminKey = "sy-admin-key-0002";

// Built from digests only, as the loader leaves it.
GatewayConfig two_key_config() {
  GatewayConfig config;
  config.tenants = {{.name = "acme"}, {.name = "ops"}};
  config.keys = {
      {.id = "acme-1", .sha256_hex = sha256_hex(kUserKey), .tenant = "acme"},
      {.id = "ops-1", .sha256_hex = sha256_hex(kAdminKey), .tenant = "ops", .role = KeyRole::admin},
  };
  return config;
}

TEST(Sha256, MatchesKnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, ParsesHexOfEitherCaseAndRejectsMalformed) {
  const auto digest =
      parse_sha256_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
  ASSERT_TRUE(digest);
  EXPECT_EQ(*digest, sha256("abc"));
  EXPECT_FALSE(parse_sha256_hex("ba78"));
  EXPECT_FALSE(parse_sha256_hex(std::string(64, 'g')));
}

TEST(KeyStore, AcceptsABearerKey) {
  const KeyStore store(two_key_config());
  auto principal = store.authenticate(Headers{{"authorization", "Bearer sy-user-key-0001"}});
  ASSERT_TRUE(principal) << principal.error().message;
  EXPECT_EQ(principal->tenant, "acme");
  EXPECT_EQ(principal->key_id, "acme-1");
  EXPECT_EQ(principal->role, KeyRole::user);
  EXPECT_FALSE(principal->anonymous);
}

TEST(KeyStore, AcceptsTheBearerSchemeInAnyCase) {
  const KeyStore store(two_key_config());
  EXPECT_TRUE(store.authenticate(Headers{{"authorization", "bearer   sy-user-key-0001 "}}));
}

TEST(KeyStore, AcceptsAnXApiKeyHeader) {
  const KeyStore store(two_key_config());
  auto principal = store.authenticate(Headers{{"x-api-key", std::string(kAdminKey)}});
  ASSERT_TRUE(principal) << principal.error().message;
  EXPECT_EQ(principal->tenant, "ops");
  EXPECT_EQ(principal->key_id, "ops-1");
  EXPECT_EQ(principal->role, KeyRole::admin);
}

TEST(KeyStore, AcceptsAnAzureApiKeyHeader) {
  const KeyStore store(two_key_config());
  auto principal = store.authenticate(Headers{{"api-key", std::string(kUserKey)}});
  ASSERT_TRUE(principal) << principal.error().message;
  EXPECT_EQ(principal->key_id, "acme-1");
}

TEST(KeyStore, PrefersTheAuthorizationHeader) {
  const KeyStore store(two_key_config());
  auto principal = store.authenticate(
      Headers{{"x-api-key", std::string(kAdminKey)}, {"authorization", "Bearer sy-user-key-0001"}});
  ASSERT_TRUE(principal);
  EXPECT_EQ(principal->key_id, "acme-1");
}

TEST(KeyStore, FallsBackToXApiKeyWhenAuthorizationIsNotBearer) {
  const KeyStore store(two_key_config());
  auto principal = store.authenticate(
      Headers{{"authorization", "Basic dXNlcjpwYXNz"}, {"x-api-key", std::string(kAdminKey)}});
  ASSERT_TRUE(principal);
  EXPECT_EQ(principal->key_id, "ops-1");
}

TEST(KeyStore, RejectsAWrongKeyWithoutEchoingIt) {
  const KeyStore store(two_key_config());
  auto result = store.authenticate(Headers{{"authorization", "Bearer sy-user-key-0003"}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::authentication);
  EXPECT_EQ(result.error().code, "invalid_api_key");
  EXPECT_NE(result.error().message.find("Incorrect API key provided"), std::string::npos);
  EXPECT_EQ(result.error().message.find("sy-user-key-0003"), std::string::npos);
}

TEST(KeyStore, RejectsAPrefixOfAValidKey) {
  const KeyStore store(two_key_config());
  EXPECT_FALSE(store.authenticate(Headers{{"x-api-key", "sy-user-key-000"}}));
}

TEST(KeyStore, ExplainsAMissingKey) {
  const KeyStore store(two_key_config());
  for (const Headers& headers :
       {Headers{}, Headers{{"authorization", "Bearer "}}, Headers{{"x-api-key", ""}},
        Headers{{"authorization", "Basic x"}}}) {
    auto result = store.authenticate(headers);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ErrorKind::authentication);
    EXPECT_TRUE(result.error().message.starts_with("Missing API key")) << result.error().message;
  }
}

TEST(KeyStore, GivesAnonymousAdminWhenNoKeysAreRequired) {
  const KeyStore store(*default_config());
  EXPECT_FALSE(store.requires_keys());
  for (const Headers& headers : {Headers{}, Headers{{"authorization", "Bearer anything"}}}) {
    auto principal = store.authenticate(headers);
    ASSERT_TRUE(principal);
    EXPECT_TRUE(principal->anonymous);
    EXPECT_EQ(principal->tenant, "default");
    EXPECT_EQ(principal->role, KeyRole::admin);
    EXPECT_EQ(principal->key_id, "");
  }
}

TEST(KeyStore, RequiresKeysWhenTenantsExistWithoutKeys) {
  GatewayConfig config;
  config.tenants = {{.name = "acme"}};
  const KeyStore store(config);
  EXPECT_TRUE(store.requires_keys());
  EXPECT_FALSE(store.authenticate(Headers{{"authorization", "Bearer whatever-key"}}));
}

TEST(KeyStore, AuthenticatesKeysLoadedFromConfigByDigestOnly) {
  const ConfigPtr config = load_config_string(
      "tenants: [{name: acme}, {name: ops}]\n"
      "keys:\n"
      "  - {id: from-env, tenant: acme, key: \"${K}\"}\n"
      "  - id: from-digest\n"
      "    tenant: ops\n"
      "    role: admin\n"
      "    key_sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\n",
      "keys.yaml", [](const std::string& name) -> std::optional<std::string> {
        if (name == "K") return "sy-env-key-123456";
        return std::nullopt;
      });
  // Nothing in the typed config holds the plain key.
  EXPECT_EQ(config->keys[0].sha256_hex, sha256_hex("sy-env-key-123456"));
  const KeyStore store(*config);
  EXPECT_EQ(store.size(), 2u);
  auto env_key = store.authenticate(Headers{{"authorization", "Bearer sy-env-key-123456"}});
  ASSERT_TRUE(env_key);
  EXPECT_EQ(env_key->key_id, "from-env");
  auto digest_key = store.authenticate(Headers{{"x-api-key", "password"}});
  ASSERT_TRUE(digest_key);
  EXPECT_EQ(digest_key->key_id, "from-digest");
  EXPECT_EQ(digest_key->role, KeyRole::admin);
}

TEST(KeyStore, RejectsAHandBuiltConfigWithAMalformedDigest) {
  GatewayConfig config = two_key_config();
  config.keys[0].sha256_hex = "zz";
  EXPECT_THROW(KeyStore{config}, std::invalid_argument);
}

TEST(KeyStore, LimitsATenantToItsAllowedModels) {
  GatewayConfig config = two_key_config();
  config.tenants[0].allowed_models = {"fast"};
  const KeyStore store(config);
  auto acme = store.authenticate(Headers{{"authorization", "Bearer sy-user-key-0001"}});
  auto ops = store.authenticate(Headers{{"authorization", "Bearer sy-admin-key-0002"}});
  ASSERT_TRUE(acme && ops);
  EXPECT_TRUE(store.model_allowed(*acme, "fast"));
  EXPECT_FALSE(store.model_allowed(*acme, "smart"));
  EXPECT_FALSE(store.model_allowed(*acme, "fas"));
  EXPECT_TRUE(store.model_allowed(*ops, "smart")) << "a tenant without a list may use any model";
}

}  // namespace
}  // namespace sy::gateway
