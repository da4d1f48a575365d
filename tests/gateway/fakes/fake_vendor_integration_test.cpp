// Checks of the fake vendor itself on the wire (the official SDKs check its shapes in
// tests/e2e/fake_vendor_sdks.test.mjs): scripts, faults, recording and shutdown.

#include "fakes/fake_vendor.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/fakes/raw_http.h"

namespace sy::fakes {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::post;
using testing::raw_exchange;

const std::string kChat =
    R"({"model":"gpt-4o","messages":[{"role":"user","content":"one two three"}]})";
const std::string kChatStream =
    R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},)"
    R"("messages":[{"role":"user","content":"one two three"}]})";
const std::string kMessages = R"({"model":"claude-x","max_tokens":9,"stream":true,)"
                              R"("messages":[{"role":"user","content":"hi"}]})";

std::vector<std::string> sse_data_lines(const std::string& body) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = body.find("data: ", at)) != std::string::npos) {
    const auto end = body.find('\n', at);
    out.push_back(body.substr(at + 6, end - at - 6));
    at = end;
  }
  return out;
}

TEST(FakeVendor, AnswersOpenAiChatWithWordCountUsageWhenNotStreaming) {
  FakeVendor fake;
  fake.push_script({.reply = Reply{.text = "alpha beta"}});
  auto response = raw_exchange(fake.port(), post("/v1/chat/completions", kChat), 2000ms);
  ASSERT_EQ(response.status, 200);
  const json body = json::parse(response.body);
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["message"]["content"], "alpha beta");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(body["usage"]["completion_tokens"], 2);
  EXPECT_EQ(fake.base_url(Vendor::openai),
            "http://127.0.0.1:" + std::to_string(fake.port()) + "/v1");
}

TEST(FakeVendor, StreamsOpenAiChunksUsageAndDoneWhenAsked) {
  FakeVendor fake;
  fake.push_script({.reply = Reply{.text = "a b c"}});
  auto response = raw_exchange(fake.port(), post("/v1/chat/completions", kChatStream), 2000ms);
  ASSERT_EQ(response.status, 200);
  EXPECT_TRUE(response.complete_chunked);
  const auto lines = sse_data_lines(response.body);
  ASSERT_EQ(lines.size(), 1u + 3u + 1u + 1u + 1u);  // role, words, finish, usage, [DONE]
  EXPECT_EQ(lines.back(), "[DONE]");
  const json usage = json::parse(lines[lines.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 3);
}

TEST(FakeVendor, StreamsAnthropicEventsInDocumentedOrder) {
  FakeVendor fake;
  fake.push_script({.reply = Reply{.text = "x y"}});
  auto response = raw_exchange(fake.port(), post("/v1/messages", kMessages), 2000ms);
  ASSERT_EQ(response.status, 200);
  std::vector<std::string> names;
  std::size_t at = 0;
  while ((at = response.body.find("event: ", at)) != std::string::npos) {
    const auto end = response.body.find('\n', at);
    names.push_back(response.body.substr(at + 7, end - at - 7));
    at = end;
  }
  const std::vector<std::string> expected = {
      "message_start",       "content_block_start", "ping",          "content_block_delta",
      "content_block_delta", "content_block_stop",  "message_delta", "message_stop"};
  EXPECT_EQ(names, expected);
}

TEST(FakeVendor, ConsumesScriptsInOrderThenAnswersByDefault) {
  FakeVendor fake;
  fake.push_scripts({{.fault = Fault::status, .status = 429, .retry_after = "2"},
                     {.fault = Fault::status, .status = 503}});
  auto first = raw_exchange(fake.port(), post("/v1/chat/completions", kChat), 2000ms);
  auto second = raw_exchange(fake.port(), post("/v1/chat/completions", kChat), 2000ms);
  auto third = raw_exchange(fake.port(), post("/v1/chat/completions", kChat), 2000ms);
  EXPECT_EQ(first.status, 429);
  EXPECT_NE(first.head.find("retry-after: 2"), std::string::npos);
  EXPECT_EQ(json::parse(first.body)["error"]["code"], "rate_limit_exceeded");
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(third.status, 200);
  EXPECT_EQ(fake.pending_scripts(), 0u);
  EXPECT_EQ(fake.request_count(), 3u);
  EXPECT_EQ(fake.request_count(Vendor::openai), 3u);
  EXPECT_EQ(fake.request_count(Vendor::anthropic), 0u);
}

TEST(FakeVendor, RejectsWrongGeminiKeyWithApiKeyInvalid) {
  FakeVendor fake({.keys = {{Vendor::gemini, "right"}}});
  auto response =
      raw_exchange(fake.port(),
                   post("/v1beta/models/gemini-2.5-flash:generateContent",
                        R"({"contents":[{"parts":[{"text":"hi"}]}]})", "x-goog-api-key: wrong\r\n"),
                   2000ms);
  EXPECT_EQ(response.status, 400);
  const json body = json::parse(response.body);
  EXPECT_EQ(body["error"]["status"], "INVALID_ARGUMENT");
  EXPECT_EQ(body["error"]["details"][0]["reason"], "API_KEY_INVALID");
}

TEST(FakeVendor, ResetsBeforeHeadersWhenScripted) {
  FakeVendor fake;
  fake.push_script({.fault = Fault::reset_before_headers});
  auto response = raw_exchange(fake.port(), post("/v1/chat/completions", kChat), 2000ms);
  EXPECT_TRUE(response.reset);
  EXPECT_TRUE(response.bytes.empty());
}

TEST(FakeVendor, CutsStreamWithoutTerminatorWhenScripted) {
  FakeVendor fake;
  fake.push_script({.fault = Fault::stream_cut, .chunks_before = 2});
  auto response = raw_exchange(fake.port(), post("/v1/chat/completions", kChatStream), 2000ms);
  EXPECT_EQ(response.status, 200);
  EXPECT_FALSE(response.timed_out);
  EXPECT_FALSE(response.complete_chunked);
  EXPECT_EQ(sse_data_lines(response.body).size(), 2u);
}

TEST(FakeVendor, OmitsDoneWhenScripted) {
  FakeVendor fake;
  fake.push_script({.fault = Fault::missing_done});
  auto response = raw_exchange(fake.port(), post("/v1/chat/completions", kChatStream), 2000ms);
  EXPECT_TRUE(response.complete_chunked);
  EXPECT_EQ(response.body.find("[DONE]"), std::string::npos);
}

TEST(FakeVendor, EndsAnthropicStreamWithErrorEventWhenScripted) {
  FakeVendor fake;
  fake.push_script(
      {.fault = Fault::stream_error, .chunks_before = 1, .headers = {{"x-extra", "yes"}}});
  auto response = raw_exchange(fake.port(), post("/v1/messages", kMessages), 2000ms);
  EXPECT_TRUE(response.complete_chunked);
  EXPECT_NE(response.head.find("x-extra: yes"), std::string::npos);
  EXPECT_NE(response.body.find("event: error\n"), std::string::npos);
  EXPECT_NE(response.body.find("overloaded_error"), std::string::npos);
  EXPECT_EQ(response.body.find("message_stop"), std::string::npos);
}

TEST(FakeVendor, StallsStreamUntilTheClientGivesUp) {
  FakeVendor fake;
  fake.push_script({.fault = Fault::stalled_stream, .chunks_before = 1});
  auto response = raw_exchange(fake.port(), post("/v1/chat/completions", kChatStream), 200ms);
  EXPECT_TRUE(response.timed_out);
  EXPECT_EQ(sse_data_lines(response.body).size(), 1u);
}

TEST(FakeVendor, DelaysFirstTokenWhenScripted) {
  FakeVendor fake;
  fake.push_script({.fault = Fault::slow_first_token, .delay_ms = 150});
  const auto start = std::chrono::steady_clock::now();
  auto response = raw_exchange(fake.port(), post("/v1/chat/completions", kChat), 2000ms);
  EXPECT_EQ(response.status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
}

TEST(FakeVendor, SendsOversizedReplyOfTheScriptedSize) {
  FakeVendor fake;
  fake.push_script({.fault = Fault::oversized, .bytes = 100000});
  auto response = raw_exchange(fake.port(), post("/v1/chat/completions", kChat), 2000ms);
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(
      json::parse(response.body)["choices"][0]["message"]["content"].get<std::string>().size(),
      100000u);
}

TEST(FakeVendor, StopsPromptlyWithSilentAndStalledConnectionsOpen) {
  auto fake = std::make_unique<FakeVendor>();
  fake->push_scripts({{.fault = Fault::silent}, {.fault = Fault::stalled_stream}});
  const uint16_t port = fake->port();
  auto silent = std::async(std::launch::async, [port] {
    return raw_exchange(port, post("/v1/chat/completions", kChat), 10000ms);
  });
  auto stalled = std::async(std::launch::async, [port] {
    return raw_exchange(port, post("/v1/chat/completions", kChatStream), 10000ms);
  });
  ASSERT_TRUE(fake->wait_for_requests(2, 2000ms));
  const auto start = std::chrono::steady_clock::now();
  fake.reset();  // the destructor stops
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2000ms);
  EXPECT_FALSE(silent.get().timed_out);
  EXPECT_FALSE(stalled.get().timed_out);
}

TEST(FakeVendor, RecordsRequestsAndTakesScriptsOverHttp) {
  FakeVendor fake;
  auto scripted =
      raw_exchange(fake.port(), post("/_fake/script", R"([{"fault":"context_length"}])"), 2000ms);
  ASSERT_EQ(scripted.status, 200);
  auto response =
      raw_exchange(fake.port(), post("/v1/messages", kMessages, "X-Api-Key: secret\r\n"), 2000ms);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(json::parse(response.body)["error"]["type"], "invalid_request_error");
  const auto recorded = fake.requests();
  ASSERT_EQ(recorded.size(), 1u);  // control requests are not recorded
  EXPECT_EQ(recorded[0].target, "/v1/messages");
  EXPECT_EQ(recorded[0].headers.at("x-api-key"), "secret");
  EXPECT_EQ(recorded[0].vendor, Vendor::anthropic);
  auto listed = raw_exchange(
      fake.port(), "GET /_fake/requests HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", 2000ms);
  EXPECT_EQ(json::parse(listed.body).size(), 1u);
}

TEST(FakeVendor, RoutesAzureDeploymentsOnlyWithApiVersion) {
  FakeVendor fake;
  auto with_version = raw_exchange(
      fake.port(),
      post("/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21", kChat), 2000ms);
  auto without = raw_exchange(fake.port(),
                              post("/openai/deployments/prod-4o/chat/completions", kChat), 2000ms);
  EXPECT_EQ(with_version.status, 200);
  EXPECT_EQ(json::parse(with_version.body)["model"], "prod-4o");
  EXPECT_EQ(without.status, 404);
  EXPECT_EQ(fake.request_count(Vendor::azure), 1u);
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST(FakeVendor, AnswersExpectContinueBeforeReadingTheBody) {
  FakeVendor fake;
  auto response = raw_exchange(
      fake.port(), post("/v1/chat/completions", kChat, "expect: 100-continue\r\n"), 2000ms);
  EXPECT_TRUE(response.bytes.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
}

TEST(FakeVendor, AnswersConcurrentClientsEach) {
  FakeVendor fake;
  std::vector<std::future<testing::RawResponse>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::async(std::launch::async, [port = fake.port()] {
      return raw_exchange(port, post("/v1/chat/completions", kChatStream), 2000ms);
    }));
  }
  for (auto& client : clients) {
    auto response = client.get();
    EXPECT_EQ(response.status, 200);
    EXPECT_TRUE(response.complete_chunked);
  }
  EXPECT_EQ(fake.request_count(), 8u);
  EXPECT_EQ(fake.connection_count(), 8u);
}

TEST(FakeVendor, ParseScriptsRejectsUnknownFault) {
  EXPECT_FALSE(parse_scripts(R"([{"fault":"explode"}])").has_value());
  EXPECT_FALSE(parse_scripts(R"({"fault":"status"})").has_value());  // no status
  auto parsed = parse_scripts(
      R"({"reply":{"tool_calls":[{"name":"f","arguments":{"a":1}}]},"chunk_delay_ms":5})");
  ASSERT_TRUE(parsed.has_value());
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].reply->tool_calls[0].arguments_json, R"({"a":1})");
  EXPECT_EQ((*parsed)[0].chunk_delay_ms, 5);
}

}  // namespace
}  // namespace sy::fakes
