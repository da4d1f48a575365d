// The Anthropic surface end to end in one process, against the loopback fakes: a request routed
// to an Anthropic backend goes out byte for byte but for `model` (signed thinking blocks
// survive) and comes back as the vendor sent it; routed to an OpenAI backend it is translated
// and answered as a `message` or Anthropic's exact event sequence; errors are Anthropic's.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "ledger/sqlite_ledger_writer.h"
#include "switchyard/gateway/sha256.h"

namespace sy::testing {
namespace {

using fakes::Fault;
using fakes::Script;
using fakes::Vendor;
using nlohmann::json;

constexpr char kClientKey[] = "sy-anthropic-client-key";

// Unusual spacing, key order and a signed thinking block: any re-serialization would show.
constexpr char kSignedBody[] = R"({
  "max_tokens" : 256,  "model":"claude",
  "thinking": {"type": "enabled", "budget_tokens": 1024},
  "system": [{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
  "messages": [
    {"role":"user","content":"Weather in Paris?"},
    {"role":"assistant","content":[
      {"type":"thinking","thinking":"I should call the tool.","signature":"EqQBCkgIARABGAIiQL+/sig=="},
      {"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"city":"Paris"}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A","content":"sunny, 21.50"}]}
  ],
  "tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
  "top_k": 5, "metadata": {"user_id": "u-1"}
})";

std::string with_model(std::string body, const std::string& from, const std::string& to) {
  auto at = body.find("\"" + from + "\"");
  body.replace(at, from.size() + 2, "\"" + to + "\"");
  return body;
}

class AnthropicSurface : public ::testing::Test {
 protected:
  void SetUp() override {
    fakes::FakeVendorOptions options;
    options.keys[Vendor::openai] = "sk-openai";
    options.keys[Vendor::anthropic] = "sk-ant";
    fake_ = std::make_unique<fakes::FakeVendor>(options);
    auto config = std::make_shared<gateway::GatewayConfig>();
    config->data_dir = dir_.path().string();
    config->backends.push_back(fake_backend("oai", "openai", *fake_, Vendor::openai, "sk-openai"));
    config->backends.push_back(
        fake_backend("claude", "anthropic", *fake_, Vendor::anthropic, "sk-ant"));
    config->models.push_back({"claude", {{"claude", "claude-haiku-4-5"}}});
    config->models.push_back({"gpt", {{"oai", "gpt-4o-mini"}}});
    config->models.push_back({"either", {{"claude", "claude-haiku-4-5"}, {"oai", "gpt-4o-mini"}}});
    config->tenants.push_back({.name = "acme"});
    config->keys.push_back(
        {.id = "k1", .sha256_hex = gateway::sha256_hex(kClientKey), .tenant = "acme"});
    config->limits.max_body_bytes = 64 * 1024;
    gateway_ = std::make_unique<GatewayUnderTest>(config);
  }

  TestResponse post(const std::string& path, const std::string& body,
                    backends::Headers headers = {{"x-api-key", kClientKey},
                                                 {"anthropic-version", "2023-06-01"}}) {
    return client_.post(gateway_->url(path), body, std::move(headers),
                        std::chrono::milliseconds(5000));
  }
  TestResponse messages(const json& body) { return post("/v1/messages", body.dump()); }

  static json hello(const std::string& model, bool stream = false) {
    return {{"model", model},
            {"max_tokens", 100},
            {"stream", stream},
            {"system", "You are terse."},
            {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}};
  }

  std::vector<gateway::LedgerRow> ledger_rows() {
    gateway_.reset();  // shutdown flushes the ledger
    return gateway::read_sqlite_ledger(dir_.path() / "ledger.sqlite3");
  }

  gateway::testing::TempDir dir_;
  std::unique_ptr<fakes::FakeVendor> fake_;
  std::unique_ptr<GatewayUnderTest> gateway_;
  TestHttpClient client_;
};

struct SseEvents {
  std::vector<std::string> names;
  std::vector<json> data;
};

SseEvents events_of(const TestResponse& r) {
  backends::SseParser parser;
  std::vector<backends::SseEvent> events;
  parser.feed(r.body, events);
  SseEvents out;
  for (auto& e : events) {
    out.names.push_back(e.event);
    out.data.push_back(json::parse(e.data));
  }
  return out;
}

void expect_anthropic_error(const TestResponse& r, int status, const std::string& type) {
  EXPECT_EQ(r.status, status) << r.body;
  auto j = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j["type"], "error") << r.body;
  EXPECT_EQ(j["error"]["type"], type) << r.body;
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  EXPECT_EQ(r.header("content-type"), "application/json");
}

TEST_F(AnthropicSurface, ForwardsTheBodyByteForByteButForTheModel) {
  TestResponse r = post("/v1/messages", kSignedBody,
                        {{"x-api-key", kClientKey},
                         {"anthropic-version", "2023-06-01"},
                         {"anthropic-beta", "interleaved-thinking-2025-05-14"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-switchyard-backend"), "claude");
  EXPECT_FALSE(r.header("x-switchyard-cost-usd").empty());
  auto sent = fake_->requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].body, with_model(kSignedBody, "claude", "claude-haiku-4-5"));
  EXPECT_EQ(sent[0].headers["anthropic-version"], "2023-06-01");
  EXPECT_EQ(sent[0].headers["anthropic-beta"], "interleaved-thinking-2025-05-14");
  EXPECT_EQ(sent[0].headers["x-api-key"], "sk-ant") << "the vendor gets the gateway's key";
  json m = json::parse(r.body);
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["model"], "claude-haiku-4-5");
  EXPECT_GT(m["usage"]["input_tokens"].get<int>(), 0);
}

TEST_F(AnthropicSurface, StreamsFromAnAnthropicBackendAsTheVendorSentIt) {
  std::string body = with_model(kSignedBody, "claude", "claude");
  body.insert(1, "\"stream\":true,");
  fake_->push_script(Script{.reply = fakes::Reply{.text = "Sunny in Paris today."}});
  TestResponse r = post("/v1/messages", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "text/event-stream");
  auto sent = fake_->requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].body, with_model(body, "claude", "claude-haiku-4-5"));
  SseEvents e = events_of(r);
  ASSERT_GE(e.names.size(), 6u);
  EXPECT_EQ(e.names.front(), "message_start");
  EXPECT_EQ(e.names[1], "content_block_start");
  EXPECT_EQ(e.names[2], "ping") << "the fake's own order, untouched";
  EXPECT_EQ(e.names.back(), "message_stop");
  std::string text;
  for (const json& d : e.data) {
    if (d["type"] == "content_block_delta") text += d["delta"]["text"].get<std::string>();
  }
  EXPECT_EQ(text, "Sunny in Paris today.");
}

TEST_F(AnthropicSurface, TranslatesForAnOpenAiBackend) {
  fake_->push_script(Script{.reply = fakes::Reply{.text = "Hello there."}});
  json body = hello("gpt");
  body["thinking"] = {{"type", "enabled"}, {"budget_tokens", 1024}};
  body["top_k"] = 3;
  body["stop_sequences"] = {"END"};
  body["metadata"] = {{"user_id", "u-9"}};
  TestResponse r = messages(body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-switchyard-backend"), "oai");
  json m = json::parse(r.body);
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["role"], "assistant");
  EXPECT_EQ(m["content"], json::parse(R"([{"type":"text","text":"Hello there."}])"));
  EXPECT_EQ(m["stop_reason"], "end_turn");
  EXPECT_GT(m["usage"]["input_tokens"].get<int>(), 0);
  EXPECT_GT(m["usage"]["output_tokens"].get<int>(), 0);
  auto sent = json::parse(fake_->requests().back().body);
  EXPECT_EQ(sent["model"], "gpt-4o-mini");
  EXPECT_EQ(sent["messages"][0]["role"], "system");
  EXPECT_EQ(sent["messages"][0]["content"], "You are terse.");
  EXPECT_EQ(sent["messages"][1]["content"], "Say hello");
  EXPECT_EQ(sent["stop"], json::array({"END"}));
  EXPECT_EQ(sent["user"], "u-9");
  EXPECT_EQ(sent["max_tokens"], 100);
  EXPECT_FALSE(sent.contains("thinking")) << "Anthropic-only members stay behind";
  EXPECT_FALSE(sent.contains("top_k"));
}

TEST_F(AnthropicSurface, ThinkingBlocksStayBehindWhenTranslated) {
  TestResponse r = post("/v1/messages", with_model(kSignedBody, "claude", "gpt"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-switchyard-backend"), "oai");
  auto sent = json::parse(fake_->requests().back().body);
  EXPECT_EQ(sent.dump().find("signature"), std::string::npos) << sent.dump();
  EXPECT_EQ(sent.dump().find("I should call the tool."), std::string::npos);
  const json& msgs = sent["messages"];
  ASSERT_EQ(msgs.size(), 4u) << sent.dump();
  EXPECT_EQ(msgs[0]["role"], "system");
  EXPECT_EQ(msgs[2]["role"], "assistant");
  EXPECT_TRUE(msgs[2]["content"].is_null());
  EXPECT_EQ(msgs[2]["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(msgs[3]["role"], "tool");
  EXPECT_EQ(msgs[3]["content"], "sunny, 21.50");
  EXPECT_EQ(sent["tools"][0]["function"]["name"], "get_weather");
}

TEST_F(AnthropicSurface, StreamsFromAnOpenAiBackendInAnthropicsEventSequence) {
  fake_->push_script(Script{.reply = fakes::Reply{.text = "One two three four."}});
  TestResponse r = messages(hello("gpt", true));
  ASSERT_EQ(r.status, 200) << r.body;
  SseEvents e = events_of(r);
  ASSERT_GE(e.names.size(), 7u);
  std::vector<std::string> expected = {"message_start", "ping", "content_block_start"};
  for (size_t i = 3; i + 3 < e.names.size(); ++i) expected.push_back("content_block_delta");
  expected.insert(expected.end(), {"content_block_stop", "message_delta", "message_stop"});
  EXPECT_EQ(e.names, expected);
  std::string text;
  for (const json& d : e.data) {
    EXPECT_EQ(d["type"], e.names[&d - &e.data[0]]);
    if (d["type"] == "content_block_delta") text += d["delta"]["text"].get<std::string>();
  }
  EXPECT_EQ(text, "One two three four.");
  const json& delta = e.data[e.data.size() - 2];
  EXPECT_EQ(delta["delta"]["stop_reason"], "end_turn");
  EXPECT_GT(delta["usage"]["output_tokens"].get<int>(), 0);
  EXPECT_GT(delta["usage"]["input_tokens"].get<int>(), 0);
  EXPECT_EQ(delta["x_switchyard"]["backend"], "oai");
}

TEST_F(AnthropicSurface, ToolUseRoundTripThroughAnOpenAiBackend) {
  fake_->push_script(Script{.reply = fakes::Reply{
                                .tool_calls = {{.name = "get_weather",
                                                .arguments_json = R"({"city":"Oslo"})"}}}});
  json body = hello("gpt");
  body["tools"] = {{{"name", "get_weather"},
                    {"input_schema", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}};
  body["tool_choice"] = {{"type", "any"}};
  TestResponse first = messages(body);
  ASSERT_EQ(first.status, 200) << first.body;
  json m = json::parse(first.body);
  EXPECT_EQ(m["stop_reason"], "tool_use");
  ASSERT_EQ(m["content"].size(), 1u);
  json call = m["content"][0];
  EXPECT_EQ(call["type"], "tool_use");
  EXPECT_EQ(call["name"], "get_weather");
  EXPECT_EQ(call["input"], (json{{"city", "Oslo"}}));
  auto sent = json::parse(fake_->requests().back().body);
  EXPECT_EQ(sent["tool_choice"], "required");

  body["messages"].push_back({{"role", "assistant"}, {"content", m["content"]}});
  json result{{"type", "tool_result"}, {"tool_use_id", call["id"]}, {"content", "snow"}};
  body["messages"].push_back(json{{"role", "user"}, {"content", json::array({result})}});
  fake_->push_script(Script{.reply = fakes::Reply{.text = "It snows in Oslo."}});
  TestResponse second = messages(body);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(json::parse(second.body)["content"][0]["text"], "It snows in Oslo.");
  sent = json::parse(fake_->requests().back().body);
  const json& msgs = sent["messages"];
  ASSERT_EQ(msgs.size(), 4u) << sent.dump();
  EXPECT_EQ(msgs[2]["tool_calls"][0]["id"], call["id"]);
  EXPECT_EQ(msgs[3]["role"], "tool");
  EXPECT_EQ(msgs[3]["tool_call_id"], call["id"]);
  EXPECT_EQ(msgs[3]["content"], "snow");
}

TEST_F(AnthropicSurface, StreamedToolUseFromAnOpenAiBackend) {
  fake_->push_script(Script{.reply = fakes::Reply{
                                .tool_calls = {{.name = "get_weather",
                                                .arguments_json = R"({"city":"Rome"})"}}}});
  TestResponse r = messages(hello("gpt", true));
  ASSERT_EQ(r.status, 200) << r.body;
  SseEvents e = events_of(r);
  std::string args;
  bool started = false;
  for (const json& d : e.data) {
    if (d["type"] == "content_block_start" && d["content_block"]["type"] == "tool_use") {
      started = true;
      EXPECT_EQ(d["content_block"]["name"], "get_weather");
    }
    if (d["type"] == "content_block_delta") {
      EXPECT_EQ(d["delta"]["type"], "input_json_delta");
      args += d["delta"]["partial_json"].get<std::string>();
    }
  }
  EXPECT_TRUE(started);
  EXPECT_EQ(json::parse(args), (json{{"city", "Rome"}}));
  EXPECT_EQ(e.data[e.data.size() - 2]["delta"]["stop_reason"], "tool_use");
}

TEST_F(AnthropicSurface, FallsBackFromAnOverloadedAnthropicToATranslatedAnswer) {
  fake_->push_scripts({Script{.fault = Fault::status, .status = 529},
                       Script{.reply = fakes::Reply{.text = "From OpenAI."}}});
  TestResponse r = messages(hello("either", true));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-switchyard-backend"), "oai");
  SseEvents e = events_of(r);
  EXPECT_EQ(e.names.front(), "message_start");
  EXPECT_EQ(e.names.back(), "message_stop");
  auto sent = fake_->requests();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].vendor, Vendor::openai);
}

TEST_F(AnthropicSurface, AStreamCutAfterContentEndsWithAnErrorEvent) {
  fake_->push_script(Script{.fault = Fault::stream_cut, .chunks_before = 3});
  TestResponse r = messages(hello("gpt", true));
  ASSERT_EQ(r.status, 200) << r.body;
  SseEvents e = events_of(r);
  ASSERT_FALSE(e.names.empty());
  EXPECT_EQ(e.names.back(), "error");
  EXPECT_EQ(e.data.back()["type"], "error");
  EXPECT_EQ(e.data.back()["error"]["type"], "api_error");
  EXPECT_EQ(std::count(e.names.begin(), e.names.end(), "message_stop"), 0);
}

TEST_F(AnthropicSurface, ErrorsAreAnthropics) {
  expect_anthropic_error(post("/v1/messages", hello("gpt").dump(), {}), 401,
                         "authentication_error");
  expect_anthropic_error(
      post("/v1/messages", hello("gpt").dump(), {{"x-api-key", "wrong-key-value"}}), 401,
      "authentication_error");
  expect_anthropic_error(messages(hello("no-such-model")), 404, "not_found_error");
  expect_anthropic_error(post("/v1/messages", "{nope"), 400, "invalid_request_error");
  json no_max = hello("gpt");
  no_max.erase("max_tokens");
  TestResponse r = messages(no_max);
  expect_anthropic_error(r, 400, "invalid_request_error");
  EXPECT_NE(json::parse(r.body)["error"]["message"].get<std::string>().find("max_tokens"),
            std::string::npos);
  json big = hello("gpt");
  big["messages"][0]["content"] = std::string(100 * 1024, 'x');
  expect_anthropic_error(messages(big), 413, "request_too_large");
  expect_anthropic_error(post("/v1/messages/nope", "{}"), 404, "not_found_error");
  EXPECT_EQ(fake_->request_count(), 0u) << "nothing reached a vendor";
  // Refused before classification, each still carries the decision headers.
  for (const TestResponse& refused :
       {post("/v1/messages", hello("gpt").dump(), {}), post("/v1/messages", "{nope"),
        messages(no_max), messages(big)}) {
    EXPECT_EQ(refused.header("x-switchyard-rule"), "none") << refused.status;
    for (const char* name :
         {"x-switchyard-sensitivity", "x-switchyard-volume", "x-switchyard-difficulty"}) {
      EXPECT_EQ(refused.header(name), "unclassified") << name << " on a " << refused.status;
    }
  }

  fake_->push_script(Script{.fault = Fault::status, .status = 429, .retry_after = "1"});
  r = messages(hello("gpt"));
  expect_anthropic_error(r, 429, "rate_limit_error");
  EXPECT_EQ(r.header("retry-after"), "1");
  fake_->push_script(Script{.fault = Fault::status, .status = 529});
  expect_anthropic_error(messages(hello("claude")), 529, "overloaded_error");
}

TEST_F(AnthropicSurface, BearerAuthWorksToo) {
  TestResponse r = post("/v1/messages", hello("gpt").dump(),
                        {{"authorization", std::string("Bearer ") + kClientKey}});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(AnthropicSurface, CountTokensUsesThePricingEstimateForVendors) {
  json body = {{"model", "gpt"},
               {"system", "abcdefgh"},
               {"messages", {{{"role", "user"}, {"content", "abcdefghijkl"}}}}};
  TestResponse r = post("/v1/messages/count_tokens", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  // 20 bytes of text / 4 + 4 framing tokens per message (system and user).
  EXPECT_EQ(json::parse(r.body), (json{{"input_tokens", 5 + 8}}));
  EXPECT_EQ(r.header("x-switchyard-token-count"), "estimate");
  EXPECT_EQ(fake_->request_count(), 0u);
  expect_anthropic_error(post("/v1/messages/count_tokens", json{{"model", "gpt"}}.dump()), 400,
                         "invalid_request_error");
}

TEST_F(AnthropicSurface, WritesLedgerRowsForTheAnthropicSurface) {
  ASSERT_EQ(messages(hello("gpt")).status, 200);
  ASSERT_EQ(messages(hello("claude", true)).status, 200);
  expect_anthropic_error(messages(hello("no-such-model")), 404, "not_found_error");
  auto rows = ledger_rows();
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.surface, "anthropic");
    EXPECT_EQ(row.endpoint, "/v1/messages");
  }
  EXPECT_EQ(rows[0].backend, "oai");
  EXPECT_GT(rows[0].usage.prompt_tokens, 0);
  EXPECT_EQ(rows[1].backend, "claude");
  EXPECT_TRUE(rows[1].stream);
  EXPECT_GT(rows[1].usage.completion_tokens, 0);
  EXPECT_EQ(rows[2].http_status, 404);
}

}  // namespace
}  // namespace sy::testing
