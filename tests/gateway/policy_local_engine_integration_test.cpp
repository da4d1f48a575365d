// The policy engine in front of the real embedded engine: a gateway whose local backends are
// `protocol: local` serving stories260K in-process, and whose closed vendors (OpenAI and
// Anthropic) are recording loopback fakes on 127.0.0.1. policy_routing_integration_test.cpp
// proves the same with a scripted fake standing in for the local backend; here the tokens come
// from the engine, and "the local backend is down" is the engine's own refusal:
//   - a lazy model whose file is gone by its first request: the load fails, upstream_unavailable;
//   - an engine whose running and waiting slots are full: overloaded, with Retry-After.
// A vendor that answers 5xx past its retries falls back to the engine, its masked attempts
// carrying placeholders only. A restricted value (a test card number, an IBAN) in a message, a
// tool call's arguments or a tool result is served by the engine, streaming or not; when the
// engine cannot serve it the client gets 503 (529 on the Anthropic surface) and no vendor sees
// a byte. Every byte each vendor fake recorded is searched for every form of every value. Each
// refusal is paired with a request the policy lets through, which does reach the vendor: the
// tests have teeth.

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/gateway_fixture.h"
#include "gateway/recording_ledger.h"
#include "switchyard/gateway/gateway.h"
#include "switchyard/gateway/sha256.h"
#include "switchyard/policies/rules/policy_loader.h"

namespace sy::testing {
namespace {

using fakes::Vendor;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kKey[] = "sy-local-policy-client-key";
constexpr int kMaxTokens = 8;

const fs::path kStories = fs::path(SWITCHYARD_MODELS_DIR) / "stories260K" / "stories260K.gguf";

constexpr char kPolicy[] = R"(
rules:
  - name: restricted-local-only
    when: {sensitivity: {at_least: restricted}}
    require: {kind: local}
  - name: mask-for-vendors
    when: {sensitivity: {at_most: confidential}}
    transform: mask_pii
)";

constexpr char kCard[] = "4111 1111 1111 1111";
constexpr char kCardDigits[] = "4111111111111111";
constexpr char kIban[] = "DE89 3704 0044 0532 0130 00";
constexpr char kIbanCompact[] = "DE89370400440532013000";
constexpr char kEmail[] = "jane.doe@example.com";

// Every form a detected value may take on the way out: as written, digits only, and the
// distinctive groups alone.
const std::vector<std::string> kValues = {kCard,        kCardDigits, "1111 1111", kIban,
                                          kIbanCompact, "3704 0044", "37040044"};

backends::LocalModelSpec stories(const fs::path& path, size_t max_running, size_t max_waiting,
                                 bool lazy = false) {
  return backends::LocalModelSpec{.name = "stories",
                                  .path = path,
                                  .chat_template = "plain",
                                  .kv_budget_bytes = 8u << 20,
                                  .threads = 1,
                                  .max_running = max_running,
                                  .max_waiting = max_waiting,
                                  .lazy = lazy};
}

gateway::BackendConfig local_backend(const std::string& name, backends::LocalModelSpec spec) {
  gateway::BackendConfig b;
  b.name = name;
  b.protocol = "local";
  b.kind = backends::BackendKind::local;
  b.region = "local";
  b.models = {"stories"};
  b.local.models.push_back(std::move(spec));
  return b;
}

class PolicyLocalEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kStories)) << kStories;
    // The lazy model's own copy of the file: present at start (its header is read), removed
    // before any request, so its first load fails as a moved or deleted model file would.
    gone_path_ = fs::temp_directory_path() /
                 ("sy-policy-local-engine-" + std::to_string(::getpid()) + ".gguf");
    fs::copy_file(kStories, gone_path_, fs::copy_options::overwrite_existing);

    auto config = std::make_shared<gateway::GatewayConfig>();
    config->backends.push_back(fake_backend("vendor", "openai", vendor_, Vendor::openai, "sk-v"));
    config->backends.back().region = "us";
    config->backends.back().retry.max_attempts = 2;
    config->backends.push_back(
        fake_backend("claude", "anthropic", vendor_, Vendor::anthropic, "sk-a"));
    config->backends.back().region = "us";
    config->backends.push_back(local_backend("local", stories(kStories, 8, 8)));
    config->backends.push_back(local_backend("local-gone", stories(gone_path_, 8, 8, true)));
    config->backends.push_back(local_backend("local-busy", stories(kStories, 1, 1)));
    // Every alias lists a closed vendor, so that without the policy a restricted request would
    // go there: first under normal routing, next on fallback when the engine refuses.
    config->models.push_back({"chat", {{"vendor", "gpt-4o"}, {"local", "stories"}}});
    config->models.push_back(
        {"claude-chat", {{"claude", "claude-haiku-4-5"}, {"local", "stories"}}});
    config->models.push_back({"gone-first", {{"local-gone", "stories"}, {"vendor", "gpt-4o"}}});
    config->models.push_back(
        {"gone-first-claude", {{"local-gone", "stories"}, {"claude", "claude-haiku-4-5"}}});
    config->models.push_back({"busy-first", {{"local-busy", "stories"}, {"vendor", "gpt-4o"}}});
    config->tenants.push_back({.name = "acme", .residency = "us"});
    config->keys.push_back({.id = "k", .sha256_hex = gateway::sha256_hex(kKey), .tenant = "acme"});
    config->policy = policies::load_policy_string(kPolicy, "policy.yaml");
    config->limits.io_threads = 2;
    config->limits.drain_timeout = std::chrono::milliseconds(1000);
    ledger_ = std::make_shared<RecordingLedger>();
    gateway_ = std::make_unique<gateway::Gateway>(config, ledger_);
    port_ = gateway_->start("127.0.0.1", 0);
    fs::remove(gone_path_);
  }

  void TearDown() override {
    stop();
    std::error_code ignored;
    fs::remove(gone_path_, ignored);
  }

  // Drains the gateway: every ledger row is written once it returns.
  void stop() {
    if (!gateway_) return;
    gateway_->shutdown();
    gateway_->wait();
    gateway_.reset();
  }

  TestResponse post(const std::string& path, const json& body,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    TestHttpClient client;
    return client.post(
        "http://127.0.0.1:" + std::to_string(port_) + path, body.dump(),
        {{"authorization", std::string("Bearer ") + kKey}, {"anthropic-version", "2023-06-01"}},
        timeout);
  }

  // Every byte the vendor fakes received (target, headers, body): no form of any value.
  void expect_vendors_never_saw(const std::vector<std::string>& values) {
    for (const auto& recorded : vendor_.requests()) {
      std::string all = recorded.target + "\n" + recorded.body;
      for (const auto& [name, value] : recorded.headers) all += "\n" + name + ": " + value;
      for (const std::string& value : values) {
        EXPECT_EQ(all.find(value), std::string::npos) << "a vendor received " << value;
      }
    }
  }

  fakes::FakeVendor vendor_;  // serves both the OpenAI and the Anthropic routes
  fs::path gone_path_;
  std::shared_ptr<RecordingLedger> ledger_;
  std::unique_ptr<gateway::Gateway> gateway_;
  uint16_t port_ = 0;
};

json user(const std::string& text) { return {{"role", "user"}, {"content", text}}; }

// Where the restricted value sits in an OpenAI chat body.
struct Placement {
  std::string name;
  json messages;
};

std::vector<Placement> placements() {
  return {
      {"message", {user(std::string("Once upon a time my card ") + kCard + " was lost")}},
      {"tool_call_and_result",
       {user("Once upon a time, pay the supplier"),
        {{"role", "assistant"},
         {"content", nullptr},
         {"tool_calls",
          {{{"id", "c1"},
            {"type", "function"},
            {"function", {{"name", "pay"}, {"arguments", json{{"card", kCardDigits}}.dump()}}}}}}},
        {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", json{{"iban", kIban}}.dump()}}}},
  };
}

json chat_body(const std::string& model, json messages, bool stream) {
  return {{"model", model},           {"messages", std::move(messages)},
          {"max_tokens", kMaxTokens}, {"temperature", 0},
          {"stream", stream},         {"stream_options", {{"include_usage", true}}}};
}

// The text and usage of an OpenAI SSE body from the engine; fails the test on a malformed one.
struct Folded {
  std::string text;
  json usage;
  std::string finish_reason;
  bool done = false;
};

Folded fold_stream(const TestResponse& r) {
  Folded out;
  for (const std::string& data : r.sse_data()) {
    if (data == "[DONE]") {
      out.done = true;
      continue;
    }
    json chunk = json::parse(data, nullptr, false);
    EXPECT_FALSE(chunk.is_discarded()) << data;
    if (chunk.is_discarded()) continue;
    if (chunk.contains("usage") && chunk["usage"].is_object()) out.usage = chunk["usage"];
    if (!chunk.contains("choices")) continue;
    for (const json& choice : chunk["choices"]) {
      const json& delta = choice["delta"];
      if (delta.contains("content") && delta["content"].is_string()) {
        out.text += delta["content"].get<std::string>();
      }
      if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
        out.finish_reason = choice["finish_reason"];
      }
    }
  }
  return out;
}

void expect_engine_usage(const json& usage) {
  ASSERT_TRUE(usage.is_object()) << usage;
  EXPECT_GT(usage["prompt_tokens"].get<int>(), 0);
  EXPECT_GT(usage["completion_tokens"].get<int>(), 0);
  EXPECT_LE(usage["completion_tokens"].get<int>(), kMaxTokens);
}

TEST_F(PolicyLocalEngine, RestrictedIsServedByTheEngineAndNoVendorSeesIt) {
  int served = 0;
  for (bool stream : {false, true}) {
    for (const Placement& p : placements()) {
      SCOPED_TRACE(p.name + (stream ? " streaming" : ""));
      TestResponse r = post("/v1/chat/completions", chat_body("chat", p.messages, stream));
      ASSERT_EQ(r.status, 200) << r.body;
      ++served;
      EXPECT_EQ(r.header("x-switchyard-backend"), "local");
      EXPECT_EQ(r.header("x-switchyard-model"), "stories");
      EXPECT_EQ(r.header("x-switchyard-rule"), "restricted-local-only");
      EXPECT_EQ(r.header("x-switchyard-sensitivity"), "restricted");
      if (stream) {
        Folded folded = fold_stream(r);
        EXPECT_TRUE(folded.done) << r.body;
        EXPECT_FALSE(folded.text.empty()) << r.body;
        EXPECT_FALSE(folded.finish_reason.empty()) << r.body;
        expect_engine_usage(folded.usage);
      } else {
        json body = json::parse(r.body);
        EXPECT_EQ(body["model"], "stories");
        EXPECT_FALSE(body["choices"][0]["message"]["content"].get<std::string>().empty());
        expect_engine_usage(body["usage"]);
      }
    }
  }
  // The Anthropic surface, the Anthropic vendor first in the alias.
  json messages = {{"model", "claude-chat"},
                   {"max_tokens", kMaxTokens},
                   {"messages", {user(std::string("Once upon a time, IBAN ") + kIban)}}};
  TestResponse a = post("/v1/messages", messages);
  ASSERT_EQ(a.status, 200) << a.body;
  ++served;
  EXPECT_EQ(a.header("x-switchyard-backend"), "local");
  EXPECT_EQ(a.header("x-switchyard-rule"), "restricted-local-only");
  json answer = json::parse(a.body);
  EXPECT_EQ(answer["type"], "message");
  EXPECT_FALSE(answer["content"][0]["text"].get<std::string>().empty()) << a.body;
  EXPECT_GT(answer["usage"]["output_tokens"].get<int>(), 0);

  EXPECT_EQ(vendor_.request_count(), 0u);
  expect_vendors_never_saw(kValues);

  stop();
  auto rows = ledger_->rows();
  ASSERT_EQ(rows.size(), static_cast<size_t>(served));
  for (const auto& row : rows) {
    EXPECT_EQ(row.backend, "local");
    EXPECT_EQ(row.rule, "restricted-local-only");
    EXPECT_EQ(row.sensitivity, "restricted");
    EXPECT_EQ(row.status, gateway::LedgerStatus::ok);
    EXPECT_GT(row.usage.prompt_tokens, 0);
    EXPECT_GT(row.usage.completion_tokens, 0);
    EXPECT_FALSE(row.usage_estimated);
  }
}

// A forced tool call on a request whose history carries the values: the engine answers with a
// grammar-constrained call, and no vendor is asked.
TEST_F(PolicyLocalEngine, ForcedToolCallCarryingTheValueIsAnsweredByTheEngine) {
  for (bool stream : {false, true}) {
    SCOPED_TRACE(stream ? "streaming" : "buffered");
    json body = chat_body("chat", placements()[1].messages, stream);
    body["max_tokens"] = 64;
    body["tools"] = {{{"type", "function"},
                      {"function",
                       {{"name", "pay"},
                        {"description", std::string("Pays with card ") + kCard},
                        {"parameters",
                         {{"type", "object"},
                          {"properties", {{"ok", {{"type", "boolean"}}}}},
                          {"required", {"ok"}},
                          {"additionalProperties", false}}}}}}};
    body["tool_choice"] = "required";
    TestResponse r = post("/v1/chat/completions", body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-backend"), "local");
    EXPECT_EQ(r.header("x-switchyard-rule"), "restricted-local-only");
    if (stream) {
      EXPECT_NE(r.body.find("\"tool_calls\""), std::string::npos) << r.body;
      EXPECT_NE(r.body.find("\"pay\""), std::string::npos) << r.body;
    } else {
      json choice = json::parse(r.body)["choices"][0];
      EXPECT_EQ(choice["finish_reason"], "tool_calls") << r.body;
      EXPECT_EQ(choice["message"]["tool_calls"][0]["function"]["name"], "pay") << r.body;
    }
  }
  EXPECT_EQ(vendor_.request_count(), 0u);
  expect_vendors_never_saw(kValues);
}

// The same policy lets other data through: public to the vendor as is, confidential masked.
TEST_F(PolicyLocalEngine, NonRestrictedDataStillReachesTheVendor) {
  TestResponse plain = post("/v1/chat/completions", chat_body("chat", {user("Say hello")}, false));
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(plain.header("x-switchyard-backend"), "vendor");
  EXPECT_EQ(plain.header("x-switchyard-rule"), "mask-for-vendors");  // nothing to mask
  ASSERT_EQ(vendor_.request_count(), 1u);
  EXPECT_NE(vendor_.requests().at(0).body.find("Say hello"), std::string::npos);

  TestResponse masked =
      post("/v1/chat/completions", chat_body("chat", {user(std::string("Mail ") + kEmail)}, true));
  ASSERT_EQ(masked.status, 200) << masked.body;
  EXPECT_EQ(masked.header("x-switchyard-backend"), "vendor");
  EXPECT_EQ(masked.header("x-switchyard-rule"), "mask-for-vendors");
  EXPECT_EQ(masked.header("x-switchyard-sensitivity"), "confidential");
  ASSERT_EQ(vendor_.request_count(), 2u);
  const std::string sent = vendor_.requests().at(1).body;
  EXPECT_EQ(sent.find(kEmail), std::string::npos) << sent;
  EXPECT_NE(sent.find("[EMAIL_1]"), std::string::npos) << sent;
  expect_vendors_never_saw(kValues);
}

// The vendor answers 5xx on every attempt (retries included) and the alias falls back to the
// engine: the vendor's attempts were masked, and the engine was given the original values (its
// prompt token count is that of the same request sent to it directly, not that of the
// placeholder text).
TEST_F(PolicyLocalEngine, VendorFailureAfterRetriesFallsBackToTheEngineWithTheOriginalValues) {
  const json messages = json::array({user(std::string("Once upon a time, mail ") + kEmail)});
  auto prompt_tokens = [&](const std::string& model, json m) {
    TestResponse r = post("/v1/chat/completions", chat_body(model, std::move(m), false));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-backend"), "local");
    json body = json::parse(r.body, nullptr, false);
    return body.is_discarded() ? -1 : body["usage"]["prompt_tokens"].get<int>();
  };
  const int direct = prompt_tokens("local/stories", messages);
  const int placeholder =
      prompt_tokens("local/stories", {user("Once upon a time, mail [EMAIL_1]")});
  ASSERT_NE(direct, placeholder) << "the count must tell the two texts apart";
  ASSERT_EQ(vendor_.request_count(), 0u);

  for (bool stream : {false, true}) {
    SCOPED_TRACE(stream ? "streaming" : "buffered");
    vendor_.reset();
    for (int i = 0; i < 2; ++i) {
      vendor_.push_script(fakes::Script{.fault = fakes::Fault::status, .status = 503});
    }
    TestResponse r = post("/v1/chat/completions", chat_body("chat", messages, stream));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-backend"), "local");
    EXPECT_EQ(r.header("x-switchyard-rule"), "mask-for-vendors");
    json usage = stream ? fold_stream(r).usage : json::parse(r.body)["usage"];
    expect_engine_usage(usage);
    EXPECT_EQ(usage["prompt_tokens"], direct);
    ASSERT_EQ(vendor_.request_count(), 2u) << "both attempts on the vendor, then the engine";
    for (const auto& recorded : vendor_.requests()) {
      EXPECT_EQ(recorded.body.find(kEmail), std::string::npos) << recorded.body;
      EXPECT_EQ(recorded.body.find("jane.doe"), std::string::npos) << recorded.body;
      EXPECT_NE(recorded.body.find("[EMAIL_1]"), std::string::npos) << recorded.body;
    }
  }

  // A restricted request on the same alias with the vendor still failing: the vendor is not
  // even tried, so its scripted failures are never consumed.
  vendor_.reset();
  vendor_.push_script(fakes::Script{.fault = fakes::Fault::status, .status = 503});
  TestResponse restricted =
      post("/v1/chat/completions", chat_body("chat", placements()[0].messages, false));
  ASSERT_EQ(restricted.status, 200) << restricted.body;
  EXPECT_EQ(restricted.header("x-switchyard-backend"), "local");
  EXPECT_EQ(vendor_.request_count(), 0u);
  expect_vendors_never_saw(kValues);
}

// The lazy model's file is gone: its load fails at the first request (upstream_unavailable,
// from the engine). The backend then reports itself unavailable while it pauses before trying
// again (retry_load_after), so later requests are refused at decision time, the message naming
// the rule. The alias lists the vendor next and fallback is on, yet no restricted request is
// rerouted, in either client's format; a public one goes to the vendor.
TEST_F(PolicyLocalEngine, EngineThatCannotLoadItsModelIsRefusedNotRerouted) {
  bool first = true;
  for (bool stream : {false, true}) {
    for (const Placement& p : placements()) {
      SCOPED_TRACE(p.name + (stream ? " streaming" : ""));
      TestResponse r = post("/v1/chat/completions", chat_body("gone-first", p.messages, stream));
      EXPECT_EQ(r.status, 503) << r.body;
      EXPECT_EQ(r.header("x-switchyard-rule"), "restricted-local-only");
      EXPECT_EQ(r.header("x-switchyard-sensitivity"), "restricted");
      json error = json::parse(r.body, nullptr, false);
      ASSERT_FALSE(error.is_discarded()) << r.body;
      EXPECT_EQ(error["error"]["type"], "api_error") << r.body;
      if (first) {
        EXPECT_EQ(error["error"]["code"], "upstream_unavailable") << r.body;
        EXPECT_EQ(r.header("x-switchyard-backend"), "local-gone") << "the backend that failed";
        // The engine's failure, and why the vendor was not tried.
        EXPECT_NE(r.body.find("backends that policy rule 'restricted-local-only' excludes were "
                              "not tried"),
                  std::string::npos)
            << r.body;
      } else {
        EXPECT_EQ(error["error"]["code"], "policy_backends_unavailable") << r.body;
        EXPECT_EQ(r.header("x-switchyard-backend"), "") << "no backend was tried";
        EXPECT_NE(r.body.find("restricted-local-only"), std::string::npos) << r.body;
      }
      first = false;
      for (const std::string& value : kValues) {
        EXPECT_EQ(r.body.find(value), std::string::npos) << "the error echoes " << value;
      }
      EXPECT_EQ(r.body.find(gone_path_.string()), std::string::npos) << "a server path leaked";
    }
  }
  json messages = {{"model", "gone-first-claude"},
                   {"max_tokens", kMaxTokens},
                   {"messages", {user(std::string("IBAN ") + kIban)}}};
  TestResponse a = post("/v1/messages", messages);
  EXPECT_EQ(a.status, 529) << a.body;
  EXPECT_EQ(a.header("x-switchyard-rule"), "restricted-local-only");
  json error = json::parse(a.body, nullptr, false);
  ASSERT_FALSE(error.is_discarded()) << a.body;
  EXPECT_EQ(error["type"], "error");
  EXPECT_EQ(error["error"]["type"], "overloaded_error");
  EXPECT_NE(a.body.find("restricted-local-only"), std::string::npos) << a.body;

  EXPECT_EQ(vendor_.request_count(), 0u);
  expect_vendors_never_saw(kValues);

  // Teeth: the same alias, public data, goes to the vendor past the engine that cannot serve.
  TestResponse plain =
      post("/v1/chat/completions", chat_body("gone-first", {user("Say hello")}, false));
  EXPECT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(plain.header("x-switchyard-backend"), "vendor");
  EXPECT_EQ(vendor_.request_count(), 1u);

  stop();
  size_t tried = 0, refused = 0;
  for (const auto& row : ledger_->rows()) {
    if (row.rule != "restricted-local-only") continue;
    EXPECT_EQ(row.status, gateway::LedgerStatus::error);
    EXPECT_EQ(row.error_kind, "upstream_unavailable");
    if (row.backend == "local-gone") {
      ++tried;
    } else {
      EXPECT_EQ(row.backend, "");
      ++refused;
    }
  }
  EXPECT_EQ(tried, 1u);
  EXPECT_EQ(refused, 2 * placements().size());  // the other OpenAI ones and the Anthropic one
}

// Concurrent long requests to an engine with one running and one waiting slot: the engine
// refuses the rest (overloaded, Retry-After). Public requests overflow to the vendor; restricted
// ones get 503 and never leave.
TEST_F(PolicyLocalEngine, FullEngineRefusesRestrictedAndOverflowsPublicToTheVendor) {
  constexpr int kClients = 8;
  auto burst = [&](const std::string& text) {
    std::vector<std::future<TestResponse>> answers;
    for (int i = 0; i < kClients; ++i) {
      answers.push_back(std::async(std::launch::async, [&, i] {
        json body = chat_body("busy-first", {user(text)}, /*stream=*/true);
        body["max_tokens"] = 1000;  // long enough to hold the slot while the others arrive
        body["seed"] = i;
        return post("/v1/chat/completions", body, std::chrono::seconds(30));
      }));
    }
    std::vector<TestResponse> out;
    for (auto& answer : answers) out.push_back(answer.get());
    return out;
  };

  int refused = 0;
  for (const TestResponse& r :
       burst(std::string("Once upon a time, card ") + kCard + " and IBAN " + kIban)) {
    EXPECT_EQ(r.header("x-switchyard-rule"), "restricted-local-only");
    if (r.status == 503) {
      ++refused;
      EXPECT_GE(std::stoi(r.header("retry-after")), 1);
      EXPECT_EQ(json::parse(r.body)["error"]["code"], "overloaded") << r.body;
    } else {
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(r.header("x-switchyard-backend"), "local-busy");
    }
  }
  EXPECT_GE(refused, 1);
  EXPECT_EQ(vendor_.request_count(), 0u);
  expect_vendors_never_saw(kValues);

  // Teeth: the same burst with public data, and the overflow reaches the vendor.
  int to_vendor = 0;
  for (const TestResponse& r : burst("Once upon a time")) {
    EXPECT_EQ(r.status, 200) << r.body;
    to_vendor += r.header("x-switchyard-backend") == "vendor";
  }
  EXPECT_GE(to_vendor, 1);
  EXPECT_EQ(vendor_.request_count(), static_cast<size_t>(to_vendor));
}

}  // namespace
}  // namespace sy::testing
