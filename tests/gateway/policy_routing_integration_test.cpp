// The policy engine in the request path, end to end: a real gateway in front of two recording
// loopback fakes on 127.0.0.1 — one stands for a closed vendor, the other for our own
// hardware. The "local" backend here is an OpenAI-compatible fake configured with kind local
// and region local: a scripted fake can answer 5xx on the attempt a test chooses and records
// what it was sent. The same guarantees through the real embedded engine (`protocol: local`
// serving stories260K) are in policy_local_engine_integration_test.cpp.
//
// Restricted values (a card number, an IBAN) placed in a message, a tool argument, a tool
// result or metadata must never reach the closed vendor: not under normal routing, not when
// the local backend answers 5xx and the alias would fall back to the vendor, not after retries,
// streaming or not. Every byte the vendor fake recorded is searched for the value.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "gateway/gateway_fixture.h"
#include "gateway/recording_ledger.h"
#include "switchyard/gateway/gateway.h"
#include "switchyard/gateway/ledger.h"
#include "switchyard/gateway/sha256.h"
#include "switchyard/policies/classify/difficulty_types.h"
#include "switchyard/policies/rules/policy_loader.h"

namespace sy::testing {
namespace {

using fakes::Fault;
using fakes::Script;
using fakes::Vendor;
using nlohmann::json;

constexpr char kAcmeKey[] = "sy-acme-client-key";      // tenant acme, residency us
constexpr char kGlobexKey[] = "sy-globex-client-key";  // tenant globex, residency eu
constexpr char kHooliKey[] = "sy-hooli-client-key";    // tenant hooli, residency us

constexpr char kPolicy[] = R"(
rules:
  - name: restricted-local-only
    when: {sensitivity: {at_least: restricted}}
    require: {kind: local}
  - name: eu-residency
    when: {tenant: {residency: eu}}
    require: {regions: [eu, local]}
)";

// kPolicy plus acme's own customer list: restricted for acme's requests only.
const std::string kTenantTermsPolicy = std::string(R"(
sensitivity:
  tenants:
    acme:
      terms:
        - {name: acme-customers, terms: [Initech], level: restricted})") + kPolicy;

// A port nothing listens on: bound, then closed.
uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class PolicyRouting : public ::testing::Test {
 protected:
  void SetUp() override { build(); }

  // `local_attempts`: retries on the local backend (the first attempt included).
  void build(int local_attempts = 1, const char* policy = kPolicy) {
    gateway_.reset();
    auto config = std::make_shared<gateway::GatewayConfig>();
    config->backends.push_back(fake_backend("vendor", "openai", vendor_, Vendor::openai, "sk-v"));
    config->backends.back().region = "us";
    config->backends.push_back(
        fake_backend("local", "openai_compat", local_, Vendor::openai, "sk-l"));
    config->backends.back().kind = backends::BackendKind::local;
    config->backends.back().region = "local";
    config->backends.back().retry.max_attempts = local_attempts;
    config->backends.push_back(
        fake_backend("local-down", "openai_compat", local_, Vendor::openai, "sk-l"));
    config->backends.back().endpoint.base_url =
        "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1";
    config->backends.back().kind = backends::BackendKind::local;
    config->backends.back().region = "local";
    config->backends.back().breaker.failure_threshold = 1;
    config->backends.back().breaker.open_for = std::chrono::milliseconds(60'000);
    // Vendor first: without a policy, everything would go to the vendor, and on its failure
    // to local; with local first, a local 5xx would fall back to the vendor.
    config->models.push_back({"chat", {{"vendor", "gpt-4o"}, {"local", "llama"}}});
    config->models.push_back({"local-first", {{"local", "llama"}, {"vendor", "gpt-4o"}}});
    config->models.push_back({"chat-down", {{"vendor", "gpt-4o"}, {"local-down", "llama"}}});
    config->tenants.push_back({.name = "acme", .residency = "us"});
    config->tenants.push_back({.name = "globex", .residency = "eu"});
    config->tenants.push_back({.name = "hooli", .residency = "us"});
    config->keys.push_back(
        {.id = "acme", .sha256_hex = gateway::sha256_hex(kAcmeKey), .tenant = "acme"});
    config->keys.push_back(
        {.id = "globex", .sha256_hex = gateway::sha256_hex(kGlobexKey), .tenant = "globex"});
    config->keys.push_back(
        {.id = "hooli", .sha256_hex = gateway::sha256_hex(kHooliKey), .tenant = "hooli"});
    config->policy = policies::load_policy_string(policy, "policy.yaml");
    config->limits.max_body_bytes = 4 * 1024 * 1024;
    config->limits.io_threads = 2;
    config->limits.drain_timeout = std::chrono::milliseconds(1000);
    ledger_ = std::make_shared<RecordingLedger>();
    gateway_ = std::make_unique<Running>(config, ledger_);
  }

  struct Running {
    Running(std::shared_ptr<gateway::GatewayConfig> config,
            std::shared_ptr<gateway::LedgerWriter> ledger)
        : gateway(config, std::move(ledger)), port(gateway.start("127.0.0.1", 0)) {}
    ~Running() {
      gateway.shutdown();
      gateway.wait();
    }
    gateway::Gateway gateway;
    uint16_t port;
  };

  TestResponse post(const std::string& path, const std::string& body, const char* key = kAcmeKey,
                    backends::Headers extra = {}) {
    extra.emplace_back("authorization", std::string("Bearer ") + key);
    return client_.post("http://127.0.0.1:" + std::to_string(gateway_->port) + path, body,
                        std::move(extra));
  }

  // Every byte the vendor fake received: no value may be in it, in any form.
  void expect_vendor_never_saw(const std::vector<std::string>& values) {
    for (const auto& recorded : vendor_.requests()) {
      std::string all = recorded.target + "\n" + recorded.body;
      for (const auto& [name, value] : recorded.headers) all += "\n" + name + ": " + value;
      for (const std::string& value : values) {
        EXPECT_EQ(all.find(value), std::string::npos) << "the vendor received " << value;
      }
    }
  }

  fakes::FakeVendor vendor_;
  fakes::FakeVendor local_;
  std::shared_ptr<RecordingLedger> ledger_;
  std::unique_ptr<Running> gateway_;
  TestHttpClient client_;
};

// Where the restricted value sits in the request.
struct Placement {
  std::string name;
  json body;
  std::vector<std::string> values;  // as sent, and digits only
};

std::vector<Placement> placements(const std::string& model) {
  auto user = [](const std::string& text) { return json{{"role", "user"}, {"content", text}}; };
  return {
      {"message",
       {{"model", model}, {"messages", {user("Refund card 4111 1111 1111 1111 today")}}},
       {"4111 1111 1111 1111", "4111111111111111"}},
      {"tool_argument",
       {{"model", model},
        {"messages",
         {user("pay it"),
          {{"role", "assistant"},
           {"content", nullptr},
           {"tool_calls",
            {{{"id", "c1"},
              {"type", "function"},
              {"function", {{"name", "pay"}, {"arguments", R"({"card":"5555555555554444"})"}}}}}}},
          {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "paid"}}}}},
       {"5555555555554444"}},
      {"tool_result",
       {{"model", model},
        {"messages",
         {user("who is the supplier?"),
          {{"role", "assistant"},
           {"content", nullptr},
           {"tool_calls",
            {{{"id", "c1"},
              {"type", "function"},
              {"function", {{"name", "lookup"}, {"arguments", "{}"}}}}}}},
          {{"role", "tool"},
           {"tool_call_id", "c1"},
           {"content", R"({"iban":"DE89 3704 0044 0532 0130 00"})"}}}}},
       {"DE89 3704 0044 0532 0130 00", "DE89370400440532013000"}},
      {"metadata",
       {{"model", model},
        {"messages", {user("hello")}},
        {"metadata", {{"ref", "GB82WEST12345698765432"}}}},
       {"GB82WEST12345698765432"}},
  };
}

TEST_F(PolicyRouting, RestrictedNeverReachesTheVendorUnderNormalRouting) {
  for (bool stream : {false, true}) {
    for (Placement p : placements("chat")) {
      SCOPED_TRACE(p.name + (stream ? " streaming" : ""));
      p.body["stream"] = stream;
      TestResponse r = post("/v1/chat/completions", p.body.dump());
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(r.header("x-switchyard-backend"), "local");
      EXPECT_EQ(r.header("x-switchyard-rule"), "restricted-local-only");
      EXPECT_EQ(r.header("x-switchyard-sensitivity"), "restricted");
      EXPECT_EQ(r.header("x-switchyard-volume"), "interactive");
      EXPECT_TRUE(policies::parse_difficulty_class(r.header("x-switchyard-difficulty")))
          << r.header("x-switchyard-difficulty");
    }
  }
  EXPECT_EQ(vendor_.request_count(), 0u);
  EXPECT_EQ(local_.request_count(), 8u);
  for (const Placement& p : placements("chat")) expect_vendor_never_saw(p.values);
  // The local backend did get the value (it was routed, not dropped).
  bool local_saw_card = false;
  for (const auto& recorded : local_.requests()) {
    local_saw_card |= recorded.body.find("4111 1111 1111 1111") != std::string::npos;
  }
  EXPECT_TRUE(local_saw_card);
}

// Local answers 5xx on every attempt; the alias lists the vendor next and fallback is on.
TEST_F(PolicyRouting, RestrictedIsNotFallenBackToTheVendorOnLocal5xxOrAfterRetries) {
  for (int attempts : {1, 3}) {
    build(attempts);
    for (bool stream : {false, true}) {
      for (Placement p : placements("local-first")) {
        SCOPED_TRACE(p.name + (stream ? " streaming" : "") + " attempts " +
                     std::to_string(attempts));
        vendor_.reset();
        local_.reset();
        for (int i = 0; i < attempts; ++i) {
          local_.push_script(Script{.fault = Fault::status, .status = 503});
          vendor_.push_script(Script{.fault = Fault::status, .status = 500});
        }
        p.body["stream"] = stream;
        TestResponse r = post("/v1/chat/completions", p.body.dump());
        EXPECT_GE(r.status, 500) << r.body;
        EXPECT_EQ(r.header("x-switchyard-rule"), "restricted-local-only");
        EXPECT_EQ(r.header("x-switchyard-sensitivity"), "restricted");
        EXPECT_EQ(local_.request_count(), static_cast<size_t>(attempts));
        EXPECT_EQ(vendor_.request_count(), 0u);
        expect_vendor_never_saw(p.values);
      }
    }
  }
}

// The same alias with public data does fall back: fallback works, within the candidates.
TEST_F(PolicyRouting, PublicDataFallsBackAlongTheAlias) {
  local_.push_script(Script{.fault = Fault::status, .status = 503});
  json body = {{"model", "local-first"},
               {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}};
  TestResponse r = post("/v1/chat/completions", body.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-switchyard-backend"), "vendor");
  EXPECT_EQ(r.header("x-switchyard-rule"), "none");
  EXPECT_EQ(r.header("x-switchyard-sensitivity"), "public");
  EXPECT_EQ(local_.request_count(), 1u);
  EXPECT_EQ(vendor_.request_count(), 1u);
}

TEST_F(PolicyRouting, LocalOnlyDecisionWithLocalDownIsRefusedNotRerouted) {
  json body = {{"model", "chat-down"},
               {"messages", {{{"role", "user"}, {"content", "card 4111111111111111"}}}}};
  // First: the local backend's connection is refused at run time.
  TestResponse first = post("/v1/chat/completions", body.dump());
  EXPECT_EQ(first.status, 503) << first.body;
  EXPECT_EQ(first.header("x-switchyard-rule"), "restricted-local-only");
  // Then its circuit is open: the decision itself answers 503, naming the rule.
  TestResponse second = post("/v1/chat/completions", body.dump());
  EXPECT_EQ(second.status, 503) << second.body;
  json error = json::parse(second.body)["error"];
  EXPECT_EQ(error["code"], "policy_backends_unavailable");
  EXPECT_NE(error["message"].get<std::string>().find("restricted-local-only"), std::string::npos);
  EXPECT_EQ(vendor_.request_count(), 0u);
  expect_vendor_never_saw({"4111111111111111"});
}

TEST_F(PolicyRouting, NoAllowedTargetIsA403NamingTheRuleAndIsLedgered) {
  json body = {{"model", "vendor/gpt-4o"},
               {"messages", {{{"role", "user"}, {"content", "IBAN DE89370400440532013000"}}}}};
  TestResponse r = post("/v1/chat/completions", body.dump());
  EXPECT_EQ(r.status, 403) << r.body;
  json error = json::parse(r.body)["error"];
  EXPECT_EQ(error["type"], "permission_error");
  EXPECT_EQ(error["code"], "policy_denied");
  EXPECT_NE(error["message"].get<std::string>().find("restricted-local-only"), std::string::npos);
  EXPECT_EQ(error["message"].get<std::string>().find("DE89"), std::string::npos);
  EXPECT_EQ(r.header("x-switchyard-sensitivity"), "restricted");
  EXPECT_EQ(vendor_.request_count(), 0u);

  gateway_.reset();  // drains: every row is written
  auto rows = ledger_->rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].rule, "restricted-local-only");
  EXPECT_EQ(rows[0].sensitivity, "restricted");
  EXPECT_EQ(rows[0].volume, "interactive");
  EXPECT_EQ(rows[0].status, gateway::LedgerStatus::denied);
  EXPECT_EQ(rows[0].http_status, 403);
  EXPECT_EQ(rows[0].backend, "");
}

TEST_F(PolicyRouting, ServedRequestsAreLedgeredWithTheirClasses) {
  json body = {{"model", "chat"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  EXPECT_EQ(post("/v1/chat/completions", body.dump(), kAcmeKey, {{"x-switchyard-workload", "bulk"}})
                .status,
            200);
  EXPECT_EQ(post("/v1/chat/completions", body.dump(), kGlobexKey).status, 200);
  gateway_.reset();
  auto rows = ledger_->rows();
  ASSERT_EQ(rows.size(), 2u);
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.tenant < b.tenant; });
  EXPECT_EQ(rows[0].tenant, "acme");
  EXPECT_EQ(rows[0].rule, "none");
  EXPECT_EQ(rows[0].volume, "bulk");
  // The same prompt has the same difficulty, whatever the tenant or volume.
  EXPECT_TRUE(policies::parse_difficulty_class(rows[0].difficulty)) << rows[0].difficulty;
  EXPECT_EQ(rows[0].difficulty, rows[1].difficulty);
  EXPECT_EQ(rows[0].backend, "vendor");
  EXPECT_EQ(rows[1].tenant, "globex");
  EXPECT_EQ(rows[1].rule, "eu-residency");  // the us vendor is out of region
  EXPECT_EQ(rows[1].sensitivity, "public");
  EXPECT_EQ(rows[1].backend, "local");
}

TEST_F(PolicyRouting, DeclaredLabelRaisesButNeverLowers) {
  json body = {{"model", "chat"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  TestResponse raised = post("/v1/chat/completions", body.dump(), kAcmeKey,
                             {{"x-switchyard-sensitivity", "restricted"}});
  EXPECT_EQ(raised.header("x-switchyard-backend"), "local");
  json card = {{"model", "chat"},
               {"messages", {{{"role", "user"}, {"content", "card 4111111111111111"}}}},
               {"metadata", {{"sensitivity", "public"}}}};
  TestResponse lowered =
      post("/v1/chat/completions", card.dump(), kAcmeKey, {{"x-switchyard-sensitivity", "public"}});
  EXPECT_EQ(lowered.header("x-switchyard-sensitivity"), "restricted");
  EXPECT_EQ(lowered.header("x-switchyard-backend"), "local");
  TestResponse bad =
      post("/v1/chat/completions", body.dump(), kAcmeKey, {{"x-switchyard-sensitivity", "top"}});
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(vendor_.request_count(), 0u);
}

TEST_F(PolicyRouting, UnscannableImageIsAFinding) {
  json body = {{"model", "chat"},
               {"messages",
                {{{"role", "user"},
                  {"content",
                   {{{"type", "text"}, {"text", "what is this?"}},
                    {{"type", "image_url"},
                     {"image_url", {{"url", "data:image/png;base64,iVBORw0KGgo="}}}}}}}}}};
  TestResponse r = post("/v1/route/explain", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json d = json::parse(r.body);
  EXPECT_EQ(d["sensitivity"]["level"], "confidential");
  ASSERT_FALSE(d["findings"].empty());
  EXPECT_EQ(d["findings"][0]["type"], "unscannable");
}

TEST_F(PolicyRouting, ExplainAnswersTheDecisionWithoutCallingABackend) {
  json body = {{"model", "chat"},
               {"stream", true},
               {"messages", {{{"role", "user"}, {"content", "Refund 4111 1111 1111 1111"}}}}};
  TestResponse r = post("/v1/route/explain", body.dump(), kGlobexKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-switchyard-rule"), "restricted-local-only,eu-residency");
  // The card's digit groups with their spaces: a bare "4111" can occur inside a float of the
  // difficulty contributions (0.5696541113544 did once).
  EXPECT_EQ(r.body.find("4111 1111"), std::string::npos) << "explain must not echo values";
  json d = json::parse(r.body);
  EXPECT_EQ(d["verdict"], "route");
  EXPECT_EQ(d["sensitivity"]["level"], "restricted");
  EXPECT_EQ(d["volume"]["class"], "interactive");
  // Difficulty: the class the header carries, its score and every feature's push.
  EXPECT_EQ(d["difficulty"]["class"], r.header("x-switchyard-difficulty"));
  EXPECT_GE(d["difficulty"]["score"].get<double>(), 0.0);
  EXPECT_LE(d["difficulty"]["score"].get<double>(), 1.0);
  ASSERT_EQ(d["difficulty"]["contributions"].size(), policies::kDifficultyFeatureCount);
  for (const json& c : d["difficulty"]["contributions"]) {
    EXPECT_TRUE(policies::parse_difficulty_feature(c["feature"].get<std::string>())) << c;
    EXPECT_TRUE(c["value"].is_number() && c["contribution"].is_number()) << c;
  }
  EXPECT_EQ(d["matched_rules"], json({"restricted-local-only", "eu-residency"}));
  ASSERT_EQ(d["candidates"].size(), 1u);
  EXPECT_EQ(d["candidates"][0]["backend"], "local");
  ASSERT_EQ(d["excluded"].size(), 1u);
  EXPECT_EQ(d["excluded"][0]["rule"], "restricted-local-only");
  EXPECT_EQ(d["findings"][0]["type"], "payment_card");
  EXPECT_EQ(d["findings"][0]["path"], "/messages/0/content");
  EXPECT_EQ(d["findings"][0]["begin"], 7);
  EXPECT_FALSE(d["reasons"].empty());
  // A refusal is explained too (200: the explanation itself succeeded).
  json denied = {{"model", "vendor/gpt-4o"},
                 {"messages", {{{"role", "user"}, {"content", "card 4111111111111111"}}}}};
  TestResponse refused = post("/v1/route/explain", denied.dump());
  ASSERT_EQ(refused.status, 200) << refused.body;
  EXPECT_EQ(json::parse(refused.body)["refusal"]["status"], 403);
  EXPECT_EQ(vendor_.request_count(), 0u);
  EXPECT_EQ(local_.request_count(), 0u);
  EXPECT_EQ(post("/v1/route/explain", body.dump(), "wrong-key-123").status, 401);
  // A value used as a member name is not echoed in finding paths either.
  json keyed = {{"model", "chat"},
                {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                {"metadata", {{"4111111111111111", "x"}}}};
  TestResponse in_key = post("/v1/route/explain", keyed.dump());
  ASSERT_EQ(in_key.status, 200) << in_key.body;
  EXPECT_EQ(in_key.body.find("4111111111111111"), std::string::npos) << in_key.body;
  EXPECT_EQ(json::parse(in_key.body)["sensitivity"]["level"], "restricted");
}

// acme's customer name is restricted for acme alone: acme's request stays local (also when
// local fails and the alias would fall back to the vendor), while hooli's identical request is
// public and goes to the vendor. Explain shows acme's finding, without the name.
TEST_F(PolicyRouting, ATenantsRestrictedTermNeverReachesTheVendorForThatTenant) {
  build(1, kTenantTermsPolicy.c_str());
  const std::string text = "Prepare the Initech renewal quote";
  for (bool stream : {false, true}) {
    SCOPED_TRACE(stream ? "streaming" : "buffered");
    json body = {{"model", "chat"},
                 {"stream", stream},
                 {"messages", {{{"role", "user"}, {"content", text}}}}};
    TestResponse r = post("/v1/chat/completions", body.dump(), kAcmeKey);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-backend"), "local");
    EXPECT_EQ(r.header("x-switchyard-rule"), "restricted-local-only");
    EXPECT_EQ(r.header("x-switchyard-sensitivity"), "restricted");
    // Local first and failing: not fallen back to the vendor.
    local_.push_script(Script{.fault = Fault::status, .status = 503});
    body["model"] = "local-first";
    TestResponse failed = post("/v1/chat/completions", body.dump(), kAcmeKey);
    EXPECT_GE(failed.status, 500) << failed.body;
    EXPECT_EQ(failed.header("x-switchyard-sensitivity"), "restricted");
  }
  EXPECT_EQ(vendor_.request_count(), 0u);
  expect_vendor_never_saw({"Initech", "initech", "INITECH"});

  json explain = {{"model", "chat"}, {"messages", {{{"role", "user"}, {"content", text}}}}};
  TestResponse acme = post("/v1/route/explain", explain.dump(), kAcmeKey);
  ASSERT_EQ(acme.status, 200) << acme.body;
  EXPECT_EQ(acme.body.find("Initech"), std::string::npos) << "explain must not echo values";
  json d = json::parse(acme.body);
  EXPECT_EQ(d["sensitivity"]["level"], "restricted");
  ASSERT_EQ(d["findings"].size(), 1u) << d["findings"];
  EXPECT_EQ(d["findings"][0]["type"], "custom_term");
  EXPECT_EQ(d["findings"][0]["detector"], "acme-customers");
  EXPECT_EQ(d["findings"][0]["path"], "/messages/0/content");
  EXPECT_EQ(d["findings"][0]["begin"], 12);
  EXPECT_EQ(d["findings"][0]["end"], 19);
  EXPECT_EQ(d["candidates"], json::parse(R"([{"backend": "local", "model": "llama"}])"));
  TestResponse hooli_explain = post("/v1/route/explain", explain.dump(), kHooliKey);
  ASSERT_EQ(hooli_explain.status, 200) << hooli_explain.body;
  EXPECT_TRUE(json::parse(hooli_explain.body)["findings"].empty()) << hooli_explain.body;
  EXPECT_EQ(vendor_.request_count(), 0u);  // explain calls no backend

  // Another tenant's identical request is public and allowed to the vendor.
  TestResponse hooli = post("/v1/chat/completions", explain.dump(), kHooliKey);
  EXPECT_EQ(hooli.status, 200) << hooli.body;
  EXPECT_EQ(hooli.header("x-switchyard-backend"), "vendor");
  EXPECT_EQ(hooli.header("x-switchyard-sensitivity"), "public");
  EXPECT_EQ(hooli.header("x-switchyard-rule"), "none");
  ASSERT_EQ(vendor_.request_count(), 1u);
  EXPECT_NE(vendor_.requests()[0].body.find("Initech"), std::string::npos);
}

TEST_F(PolicyRouting, HostileInputGetsABoundedClearAnswer) {
  using Clock = std::chrono::steady_clock;
  // A megabyte prompt with a card at its very end: scanned in full, routed local.
  std::string big(1024 * 1024, 'a');
  for (size_t i = 80; i < big.size(); i += 81) big[i] = ' ';
  big += " 4111111111111111";
  json body = {{"model", "chat"}, {"messages", {{{"role", "user"}, {"content", big}}}}};
  auto start = Clock::now();
  TestResponse r = post("/v1/chat/completions", body.dump());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_EQ(r.header("x-switchyard-sensitivity"), "restricted");
  EXPECT_EQ(vendor_.request_count(), 0u);

  // Content parts nested far past any limit.
  std::string nested = R"({"model":"chat","messages":[{"role":"user","content":[)";
  for (int i = 0; i < 5000; ++i) nested += R"({"type":"text","text":[)";
  start = Clock::now();
  r = post("/v1/chat/completions", nested);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(json::parse(r.body, nullptr, false).dump().find("error"), std::string::npos);

  // Invalid UTF-8 in a message.
  std::string invalid = R"({"model":"chat","messages":[{"role":"user","content":"card )";
  invalid += "\xff\xfe\xc3";
  invalid += R"( 4111111111111111"}]})";
  start = Clock::now();
  r = post("/v1/chat/completions", invalid);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(vendor_.request_count(), 0u);
  expect_vendor_never_saw({"4111111111111111"});
}

}  // namespace
}  // namespace sy::testing
