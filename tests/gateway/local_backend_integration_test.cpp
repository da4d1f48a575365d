// The local backend behind the gateway's OpenAI surface, with stories260K: refusals in the
// client's format (503 + Retry-After when the engine's queue is full, 400
// context_length_exceeded), /v1/models with the context length, the backend's headers.

#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/gateway_fixture.h"

namespace sy::testing {
namespace {

using nlohmann::json;

const std::string kStories = std::string(SWITCHYARD_MODELS_DIR) + "/stories260K/stories260K.gguf";

std::shared_ptr<gateway::GatewayConfig> local_config(size_t max_running, size_t max_waiting) {
  auto config = std::make_shared<gateway::GatewayConfig>();
  gateway::BackendConfig b;
  b.name = "local";
  b.protocol = "local";
  b.kind = backends::BackendKind::local;
  b.region = "local";
  b.models = {"stories"};
  b.local.models.push_back(backends::LocalModelSpec{.name = "stories",
                                                    .path = kStories,
                                                    .chat_template = "plain",
                                                    .kv_budget_bytes = 8u << 20,
                                                    .threads = 1,
                                                    .max_running = max_running,
                                                    .max_waiting = max_waiting});
  config->backends.push_back(std::move(b));
  return config;
}

std::string chat_body(const std::string& text, int max_tokens, bool stream = false) {
  return json{{"model", "stories"},
              {"messages", json::array({{{"role", "user"}, {"content", text}}})},
              {"max_tokens", max_tokens},
              {"temperature", 0},
              {"stream", stream}}
      .dump();
}

TEST(LocalBackendGateway, AnswersAndListsTheModelWithItsContextLength) {
  GatewayUnderTest gateway(local_config(8, 8));
  TestHttpClient client;
  TestResponse models = client.get(gateway.url("/v1/models"));
  ASSERT_EQ(models.status, 200);
  json listed = json::parse(models.body)["data"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["id"], "stories");
  EXPECT_EQ(listed[0]["owned_by"], "local");
  EXPECT_EQ(listed[0]["context_length"], 2048);

  TestResponse r = client.post(gateway.url("/v1/chat/completions"), chat_body("Hi", 8));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-switchyard-backend"), "local");
  json body = json::parse(r.body);
  EXPECT_EQ(body["usage"]["completion_tokens"], 8);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
}

TEST(LocalBackendGateway, PromptLongerThanTheContextIsA400InOpenAIsFormat) {
  GatewayUnderTest gateway(local_config(8, 8));
  TestHttpClient client;
  std::string text;
  for (int i = 0; i < 800; ++i) text += "once upon a time ";
  TestResponse r = client.post(gateway.url("/v1/chat/completions"), chat_body(text, 8));
  ASSERT_EQ(r.status, 400) << r.body;
  json error = json::parse(r.body)["error"];
  EXPECT_EQ(error["code"], "context_length_exceeded");
  EXPECT_EQ(error["type"], "invalid_request_error");
  EXPECT_EQ(error["param"], "messages");
}

TEST(LocalBackendGateway, FullQueueIsA503WithRetryAfter) {
  GatewayUnderTest gateway(local_config(1, 1));
  constexpr int kClients = 8;
  std::vector<std::future<TestResponse>> answers;
  for (int i = 0; i < kClients; ++i) {
    answers.push_back(std::async(std::launch::async, [&] {
      TestHttpClient client;
      return client.post(gateway.url("/v1/chat/completions"),
                         chat_body("Once upon a time", 2000, /*stream=*/true), {},
                         std::chrono::seconds(30));
    }));
  }
  int refused = 0;
  int served = 0;
  for (auto& answer : answers) {
    TestResponse r = answer.get();
    if (r.status == 503) {
      ++refused;
      EXPECT_GE(std::stoi(r.header("retry-after")), 1);
      json error = json::parse(r.body)["error"];
      EXPECT_EQ(error["code"], "overloaded");
    } else {
      ASSERT_EQ(r.status, 200) << r.body;
      ++served;
    }
  }
  EXPECT_GE(refused, 1);
  EXPECT_GE(served, 1);
  EXPECT_EQ(refused + served, kClients);
}

}  // namespace
}  // namespace sy::testing
