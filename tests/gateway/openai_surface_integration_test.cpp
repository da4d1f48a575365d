// The OpenAI surface end to end in one process: routing, headers, streaming, auth and every
// kind of bad input, each answered in OpenAI's error format with the right status.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "switchyard/gateway/sha256.h"
#include "gateway/gateway_fixture.h"

namespace sy::testing {
namespace {

using fakes::Vendor;
using nlohmann::json;

constexpr char kClientKey[] = "sy-test-client-key";

class OpenAiSurface : public ::testing::Test {
 protected:
  void SetUp() override {
    fakes::FakeVendorOptions options;
    options.keys[Vendor::openai] = "sk-openai";
    options.keys[Vendor::anthropic] = "sk-ant";
    options.keys[Vendor::gemini] = "gm-key";
    options.keys[Vendor::azure] = "az-key";
    fake_ = std::make_unique<fakes::FakeVendor>(options);
    auto config = std::make_shared<gateway::GatewayConfig>();
    config->backends.push_back(fake_backend("oai", "openai", *fake_, Vendor::openai, "sk-openai"));
    config->backends.push_back(
        fake_backend("claude", "anthropic", *fake_, Vendor::anthropic, "sk-ant"));
    config->backends.push_back(fake_backend("gem", "gemini", *fake_, Vendor::gemini, "gm-key"));
    config->backends.push_back(fake_backend("az", "azure", *fake_, Vendor::azure, "az-key"));
    config->backends[0].models = {"gpt-4o-mini"};
    config->models.push_back({"fast", {{"oai", "gpt-4o-mini"}}});
    config->models.push_back({"claude", {{"claude", "claude-haiku"}}});
    config->models.push_back({"gemini", {{"gem", "gemini-2.0-flash"}}});
    config->models.push_back({"azure", {{"az", "my-deployment"}}});
    config->tenants.push_back({.name = "acme"});
    config->keys.push_back({.id = "k1", .sha256_hex = gateway::sha256_hex(kClientKey),
                            .tenant = "acme"});
    config->limits.max_body_bytes = 64 * 1024;
    config->limits.busy_poll = busy_poll();
    gateway_ = std::make_unique<GatewayUnderTest>(config);
  }
  virtual std::chrono::microseconds busy_poll() const { return {}; }

  TestResponse post(const std::string& path, const std::string& body,
                    backends::Headers headers = {{"authorization",
                                                  std::string("Bearer ") + kClientKey}}) {
    return client_.post(gateway_->url(path), body, std::move(headers));
  }
  TestResponse chat(const json& body) { return post("/v1/chat/completions", body.dump()); }

  static json hello(const std::string& model) {
    return {{"model", model}, {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}};
  }

  std::unique_ptr<fakes::FakeVendor> fake_;
  std::unique_ptr<GatewayUnderTest> gateway_;
  TestHttpClient client_;
};

void expect_openai_error(const TestResponse& r, int status, const std::string& param = "") {
  EXPECT_EQ(r.status, status) << r.body;
  auto j = json::parse(r.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.body;
  ASSERT_TRUE(j.contains("error")) << r.body;
  EXPECT_TRUE(j["error"]["message"].is_string());
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  EXPECT_TRUE(j["error"]["type"].is_string());
  if (!param.empty()) {
    EXPECT_EQ(j["error"]["param"], param) << r.body;
  }
}

// A model request refused before it was classified still carries the four decision headers.
void expect_unclassified(const TestResponse& r) {
  EXPECT_EQ(r.header("x-switchyard-rule"), "none") << r.status;
  for (const char* name :
       {"x-switchyard-sensitivity", "x-switchyard-volume", "x-switchyard-difficulty"}) {
    EXPECT_EQ(r.header(name), "unclassified") << name << " on a " << r.status;
  }
}

TEST_F(OpenAiSurface, AnswersEachVendorInOpenAiShapeWithRoutingHeaders) {
  for (auto [alias, backend] : {std::pair{"fast", "oai"}, {"claude", "claude"},
                                {"gemini", "gem"}, {"azure", "az"}}) {
    TestResponse r = chat(hello(alias));
    ASSERT_EQ(r.status, 200) << alias << ": " << r.body;
    EXPECT_EQ(r.header("x-switchyard-backend"), backend);
    EXPECT_FALSE(r.header("x-switchyard-model").empty());
    EXPECT_FALSE(r.header("x-request-id").empty());
    auto j = json::parse(r.body);
    EXPECT_EQ(j["object"], "chat.completion");
    EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
    EXPECT_FALSE(j["choices"][0]["message"]["content"].get<std::string>().empty());
    EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), 0) << alias;
    EXPECT_GT(j["usage"]["completion_tokens"].get<int>(), 0) << alias;
  }
}

TEST_F(OpenAiSurface, StreamsAndBuffersReportTheSameUsage) {
  for (const char* alias : {"fast", "claude", "gemini", "azure"}) {
    json body = hello(alias);
    TestResponse whole = chat(body);
    ASSERT_EQ(whole.status, 200) << whole.body;
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    TestResponse streamed = chat(body);
    ASSERT_EQ(streamed.status, 200) << streamed.body;
    EXPECT_EQ(streamed.header("content-type"), "text/event-stream");
    auto events = streamed.sse_data();
    ASSERT_GE(events.size(), 3u);
    EXPECT_EQ(events.back(), "[DONE]");
    auto usage_chunk = json::parse(events[events.size() - 2]);
    EXPECT_TRUE(usage_chunk["choices"].empty());
    EXPECT_EQ(usage_chunk["usage"], json::parse(whole.body)["usage"]) << alias;
    EXPECT_EQ(usage_chunk["x_switchyard"]["backend"], streamed.header("x-switchyard-backend"));
    std::string text;
    for (size_t i = 0; i + 2 < events.size(); ++i) {
      auto chunk = json::parse(events[i]);
      if (!chunk["choices"].empty() && chunk["choices"][0]["delta"].contains("content") &&
          chunk["choices"][0]["delta"]["content"].is_string()) {
        text += chunk["choices"][0]["delta"]["content"].get<std::string>();
      }
    }
    EXPECT_EQ(text, json::parse(whole.body)["choices"][0]["message"]["content"]) << alias;
  }
}

// limits.busy_poll_us: I/O threads that poll before they sleep answer every vendor, buffered and
// streamed, and the gateway still drains and stops when the test tears it down.
class OpenAiSurfaceBusyPolling : public OpenAiSurface {
  std::chrono::microseconds busy_poll() const override { return std::chrono::microseconds(200); }
};

TEST_F(OpenAiSurfaceBusyPolling, AnswersBufferedAndStreamedRequests) {
  for (const char* alias : {"fast", "claude", "gemini", "azure"}) {
    json body = hello(alias);
    TestResponse whole = chat(body);
    ASSERT_EQ(whole.status, 200) << alias << ": " << whole.body;
    body["stream"] = true;
    TestResponse streamed = chat(body);
    ASSERT_EQ(streamed.status, 200) << alias << ": " << streamed.body;
    EXPECT_EQ(streamed.sse_data().back(), "[DONE]") << alias;
  }
}

TEST_F(OpenAiSurface, EchoesAPlainRequestIdAndReplacesAHostileOne) {
  auto auth = std::string("Bearer ") + kClientKey;
  TestResponse r = post("/v1/chat/completions", hello("fast").dump(),
                        {{"authorization", auth}, {"x-request-id", "abc-123"}});
  EXPECT_EQ(r.header("x-request-id"), "abc-123");
  r = post("/v1/chat/completions", hello("fast").dump(),
           {{"authorization", auth}, {"x-request-id", "bad id\twith spaces"}});
  EXPECT_NE(r.header("x-request-id"), "bad id\twith spaces");
  EXPECT_FALSE(r.header("x-request-id").empty());
}

TEST_F(OpenAiSurface, RejectsMissingAndUnknownKeysWith401) {
  TestResponse missing = post("/v1/chat/completions", hello("fast").dump(), {});
  expect_openai_error(missing, 401);
  expect_unclassified(missing);
  expect_openai_error(post("/v1/chat/completions", hello("fast").dump(),
                           {{"authorization", "Bearer wrong"}}),
                      401);
  EXPECT_EQ(fake_->request_count(), 0u);
}

TEST_F(OpenAiSurface, RejectsBadInputWithClearErrors) {
  TestResponse not_json = post("/v1/chat/completions", "{not json");
  expect_openai_error(not_json, 400);
  expect_unclassified(not_json);
  expect_openai_error(post("/v1/chat/completions", "[1,2]"), 400);
  expect_openai_error(chat({{"model", "fast"}}), 400, "messages");
  expect_openai_error(chat({{"model", "fast"}, {"messages", "hi"}}), 400, "messages");
  expect_openai_error(chat({{"model", 7}, {"messages", hello("x")["messages"]}}), 400, "model");
  json bad_temp = hello("fast");
  bad_temp["temperature"] = "hot";
  expect_openai_error(chat(bad_temp), 400, "temperature");
  std::string deep(10000, '[');
  expect_openai_error(post("/v1/chat/completions", deep), 400);
  EXPECT_EQ(fake_->request_count(), 0u) << "bad input must not reach a vendor";
}

TEST_F(OpenAiSurface, UnknownModelIs404) {
  TestResponse r = chat(hello("no-such-model"));
  expect_openai_error(r, 404, "model");
  expect_unclassified(r);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "model_not_found");
}

TEST_F(OpenAiSurface, BodyOverTheLimitIs413) {
  json big = hello("fast");
  big["messages"][0]["content"] = std::string(100 * 1024, 'x');
  TestResponse r = post("/v1/chat/completions", big.dump());
  expect_openai_error(r, 413);
  expect_unclassified(r);
  EXPECT_EQ(fake_->request_count(), 0u);
}

TEST_F(OpenAiSurface, MultipleChoicesOnlyWhereTheBackendSupportsThem) {
  json body = hello("claude");
  body["n"] = 2;
  expect_openai_error(chat(body), 400, "n");
  body["model"] = "fast";
  TestResponse r = chat(body);
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(OpenAiSurface, PassesUnknownFieldsThroughToOpenAiShapedVendors) {
  json body = hello("fast");
  body["some_vendor_extension"] = {{"nested", true}};
  ASSERT_EQ(chat(body).status, 200);
  auto requests = fake_->requests();
  ASSERT_FALSE(requests.empty());
  auto sent = json::parse(requests.back().body);
  EXPECT_EQ(sent["some_vendor_extension"], body["some_vendor_extension"]);
  EXPECT_EQ(sent["model"], "gpt-4o-mini") << "the alias is resolved before sending";
}

TEST_F(OpenAiSurface, LegacyCompletionsWorkOnChatOnlyBackends) {
  for (const char* alias : {"fast", "claude"}) {
    TestResponse r = post("/v1/completions",
                          json{{"model", alias}, {"prompt", "Once upon a time"}}.dump());
    ASSERT_EQ(r.status, 200) << alias << ": " << r.body;
    auto j = json::parse(r.body);
    EXPECT_EQ(j["object"], "text_completion") << alias;
    EXPECT_TRUE(j["choices"][0]["text"].is_string());
  }
}

TEST_F(OpenAiSurface, ListsModelsAndHealth) {
  auto auth = backends::Headers{{"authorization", std::string("Bearer ") + kClientKey}};
  TestResponse models = client_.get(gateway_->url("/v1/models"), auth);
  ASSERT_EQ(models.status, 200);
  auto j = json::parse(models.body);
  EXPECT_EQ(j["object"], "list");
  std::vector<std::string> ids;
  for (const auto& m : j["data"]) ids.push_back(m["id"]);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "fast"), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "gpt-4o-mini"), ids.end());
  EXPECT_EQ(client_.get(gateway_->url("/healthz")).status, 200);
  EXPECT_EQ(client_.get(gateway_->url("/readyz")).status, 200);
  expect_openai_error(client_.get(gateway_->url("/v1/nothing-here"), auth), 404);
}

TEST(GatewayWithoutBackends, StartsAndSaysItIsNotReady) {
  auto config = std::make_shared<gateway::GatewayConfig>();
  GatewayUnderTest gateway(config);
  TestHttpClient client;
  EXPECT_EQ(client.get(gateway.url("/healthz")).status, 200);
  EXPECT_EQ(client.get(gateway.url("/readyz")).status, 503);
  TestResponse r = client.post(gateway.url("/v1/chat/completions"),
                               R"({"model":"x","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(r.status, 404) << "no key needed without a config, and no backend to serve";
}

}  // namespace
}  // namespace sy::testing
