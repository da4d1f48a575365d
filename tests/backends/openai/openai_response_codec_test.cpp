// parse_chat_response / parse_chunk / parse_error (what vendors answer) and the encoders of
// what clients receive (chat.completion, chunks, text_completion, error bodies).

#include <gtest/gtest.h>

#include <string>

#include "backends/translator_test_support.h"
#include "switchyard/backends/openai_json.h"

namespace sy::backends {
namespace {

using nlohmann::json;
namespace oa = openai;

const oa::ResponseIdentity kWho{
    .id = "chatcmpl-sy1", .model = "gpt-4o-mini", .created = 1734000000};

TEST(OpenAiResponseParser, ReadsToolCallsUsageAndNullContent) {
  auto r = oa::parse_chat_response(R"({
    "id": "chatcmpl-AhY0", "object": "chat.completion", "created": 1734000001,
    "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_0aa8d3e20b",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": null,
      "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather",
                      "arguments": "{\"location\":\"Paris\"}"}}]},
      "logprobs": null, "finish_reason": "tool_calls"}],
    "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99,
      "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
      "completion_tokens_details": {"reasoning_tokens": 5, "audio_tokens": 0}},
    "service_tier": "default"})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, "chatcmpl-AhY0");
  EXPECT_EQ(r->model, "gpt-4o-2024-08-06");
  EXPECT_EQ(r->created, 1734000001);
  EXPECT_EQ(r->system_fingerprint, "fp_0aa8d3e20b");
  ASSERT_EQ(r->choices.size(), 1u);
  EXPECT_EQ(r->choices[0].finish_reason, FinishReason::tool_calls);
  EXPECT_TRUE(r->choices[0].message.content_is_null);
  ASSERT_EQ(r->choices[0].message.tool_calls.size(), 1u);
  EXPECT_EQ(r->choices[0].message.tool_calls[0].name, "get_weather");
  EXPECT_EQ(r->usage, (Usage{.prompt_tokens = 82,
                             .completion_tokens = 17,
                             .cached_tokens = 64,
                             .reasoning_tokens = 5}));
}

TEST(OpenAiResponseParser, ReadsLegacyTextCompletion) {
  auto r = oa::parse_chat_response(R"({"id":"cmpl-1","object":"text_completion","created":1,
    "model":"gpt-3.5-turbo-instruct","choices":[{"text":"\n\nThis is a test.","index":0,
    "logprobs":null,"finish_reason":"length"}],
    "usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->choices[0].message.text(), "\n\nThis is a test.");
  EXPECT_EQ(r->choices[0].finish_reason, FinishReason::length);
  EXPECT_EQ(r->usage.completion_tokens, 7);
}

TEST(OpenAiResponseParser, RejectsMalformedBodiesAsUpstreamErrors) {
  for (std::string_view body :
       {"", "not json", "[]", R"({"id":"x"})", R"({"choices":[1]})",
        R"({"choices":[{"message":{"content":5}}]})", R"({"choices":[{"index":0}]})"}) {
    auto r = oa::parse_chat_response(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().kind, ErrorKind::upstream_error) << body;
  }
  std::string deep = std::string(10'000, '[') + std::string(10'000, ']');
  EXPECT_EQ(oa::parse_chat_response(deep).error().kind, ErrorKind::upstream_error);
}

TEST(OpenAiResponseParser, ReturnsAnErrorBodyAsItsError) {
  auto r = oa::parse_chat_response(
      R"({"error":{"message":"Rate limit reached","type":"requests",
          "code":"rate_limit_exceeded"}})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::rate_limited);
}

TEST(OpenAiChunkParser, SplitsChoicesAndUsage) {
  auto chunks = oa::parse_chunk(R"({"id":"c","object":"chat.completion.chunk","created":1,
    "model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null},
    {"index":1,"delta":{},"finish_reason":"stop"},{"index":2,"delta":{},"finish_reason":null}],
    "usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})");
  ASSERT_TRUE(chunks) << chunks.error().message;
  ASSERT_EQ(chunks->size(), 3u);  // the empty delta of choice 2 says nothing
  EXPECT_EQ((*chunks)[0].content, "a");
  EXPECT_EQ((*chunks)[0].model, "m");
  EXPECT_EQ((*chunks)[1].choice_index, 1);
  EXPECT_EQ((*chunks)[1].finish_reason, FinishReason::stop);
  ASSERT_TRUE((*chunks)[2].usage.has_value());
  EXPECT_EQ((*chunks)[2].usage->completion_tokens, 2);
}

TEST(OpenAiErrorParser, MapsEachVendorErrorToItsKind) {
  const json cases = testing::read_json_fixture("openai/error_cases.json");
  ASSERT_GE(cases.size(), 15u);
  for (const auto& c : cases) {
    const std::string name = c["name"];
    Error e = oa::parse_error(c["status"].get<int>(), c["body"].get<std::string>());
    EXPECT_EQ(to_string(e.kind), c["kind"].get<std::string>()) << name << ": " << e.message;
    EXPECT_EQ(e.upstream_status, c["status"].get<int>()) << name;
    EXPECT_EQ(e.code, c["code"].get<std::string>()) << name;
    EXPECT_EQ(e.param, c["param"].get<std::string>()) << name;
    EXPECT_FALSE(e.message.empty()) << name;
    EXPECT_NE(e.message.find(c["message_contains"].get<std::string>()), std::string::npos)
        << name << ": " << e.message;
  }
}

TEST(OpenAiErrorParser, QuotesAtMostAShortPrefixOfNonJsonBodies) {
  std::string body = "<html>" + std::string(100'000, 'x') + "</html>";
  Error e = oa::parse_error(502, body);
  EXPECT_EQ(e.kind, ErrorKind::upstream_error);
  EXPECT_LT(e.message.size(), 300u);
  EXPECT_NE(e.message.find("<html>"), std::string::npos);
}

TEST(OpenAiErrorParser, InsufficientQuotaIsNotRetryable) {
  Error e = oa::parse_error(429, R"({"error":{"message":"quota","type":"insufficient_quota",
                                    "code":"insufficient_quota"}})");
  EXPECT_EQ(e.kind, ErrorKind::permission_denied);
  EXPECT_FALSE(e.retryable());
  EXPECT_TRUE(oa::parse_error(429, "{}").retryable());
}

TEST(OpenAiResponseEncoder, EncodesChatCompletion) {
  ChatResponse r;
  Choice text{.index = 0, .finish_reason = FinishReason::stop};
  text.message.role = Role::assistant;
  text.message.content.push_back(ContentPart{.text = "Hello!"});
  Choice call{.index = 1, .finish_reason = FinishReason::tool_calls};
  call.message.role = Role::assistant;
  call.message.content_is_null = true;
  call.message.tool_calls.push_back(ToolCall{.id = "call_1", .name = "f", .arguments = "{}"});
  r.choices = {text, call};
  r.usage = Usage{.prompt_tokens = 9, .completion_tokens = 12, .cached_tokens = 3};
  EXPECT_EQ(json::parse(oa::encode_chat_response(r, kWho)), json::parse(R"({
    "id":"chatcmpl-sy1","object":"chat.completion","created":1734000000,"model":"gpt-4o-mini",
    "choices":[
      {"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},
       "logprobs":null,"finish_reason":"stop"},
      {"index":1,"message":{"role":"assistant","content":null,"refusal":null,
        "tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
       "logprobs":null,"finish_reason":"tool_calls"}],
    "usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,
      "prompt_tokens_details":{"cached_tokens":3},
      "completion_tokens_details":{"reasoning_tokens":0}}})"));
}

TEST(OpenAiResponseEncoder, EncodesChunksWithNullFinishUntilTheEnd) {
  ChatChunk first{.role = Role::assistant};
  EXPECT_EQ(json::parse(oa::encode_chunk(first, kWho)), json::parse(R"({
    "id":"chatcmpl-sy1","object":"chat.completion.chunk","created":1734000000,
    "model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},
    "logprobs":null,"finish_reason":null}]})"));

  ChatChunk tool{.tool_calls = {ToolCallDelta{.index = 0, .id = "call_1", .name = "f"},
                                ToolCallDelta{.index = 1, .arguments = "{\"a\""}}};
  EXPECT_EQ(json::parse(oa::encode_chunk(tool, kWho))["choices"][0]["delta"], json::parse(R"({
    "tool_calls":[{"index":0,"id":"call_1","type":"function",
                   "function":{"name":"f","arguments":""}},
                  {"index":1,"function":{"arguments":"{\"a\""}}]})"));

  ChatChunk last{.finish_reason = FinishReason::length};
  const json end = json::parse(oa::encode_chunk(last, kWho));
  EXPECT_EQ(end["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(end["choices"][0]["delta"], json::object());

  ChatChunk usage{.usage = Usage{.prompt_tokens = 1, .completion_tokens = 2}};
  const json u = json::parse(oa::encode_chunk(usage, kWho, R"({"cost_usd":"0.000012"})"));
  EXPECT_EQ(u["choices"], json::array());
  EXPECT_EQ(u["usage"]["total_tokens"], 3);
  EXPECT_EQ(u["x_switchyard"]["cost_usd"], "0.000012");
}

TEST(OpenAiResponseEncoder, EncodesLegacyCompletionShapes) {
  ChatResponse r;
  Choice c{.index = 0, .finish_reason = FinishReason::length};
  c.message.content.push_back(ContentPart{.text = "Once upon"});
  r.choices = {c};
  r.usage = Usage{.prompt_tokens = 4, .completion_tokens = 2};
  const oa::ResponseIdentity who{.id = "cmpl-sy1", .model = "m", .created = 5};
  EXPECT_EQ(json::parse(oa::encode_completion_response(r, who)), json::parse(R"({
    "id":"cmpl-sy1","object":"text_completion","created":5,"model":"m",
    "choices":[{"text":"Once upon","index":0,"logprobs":null,"finish_reason":"length"}],
    "usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6,
      "prompt_tokens_details":{"cached_tokens":0},
      "completion_tokens_details":{"reasoning_tokens":0}}})"));
  EXPECT_EQ(json::parse(oa::encode_completion_chunk(ChatChunk{.content = "On"}, who)),
            json::parse(R"({"id":"cmpl-sy1","object":"text_completion","created":5,"model":"m",
              "choices":[{"text":"On","index":0,"logprobs":null,"finish_reason":null}]})"));
}

TEST(OpenAiResponseEncoder, EncodesErrorsWithNullsForMissingParamAndCode) {
  EXPECT_EQ(json::parse(oa::encode_error("bad", "invalid_request_error", "", "")),
            json::parse(R"({"error":{"message":"bad","type":"invalid_request_error",
                                     "param":null,"code":null}})"));
  EXPECT_EQ(json::parse(oa::encode_error("n", "invalid_request_error", "n", "invalid_value")),
            json::parse(R"({"error":{"message":"n","type":"invalid_request_error",
                                     "param":"n","code":"invalid_value"}})"));
}

}  // namespace
}  // namespace sy::backends

namespace sy::backends {
namespace {

TEST(OpenAiChunkParser, NeverThrowsOnTruncatedChunks) {
  const std::string chunk =
      R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[)"
      R"({"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function",)"
      R"("function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":null}],)"
      R"("usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})";
  ASSERT_TRUE(openai::parse_chunk(chunk));
  for (size_t n = 0; n < chunk.size(); ++n) {
    auto r = openai::parse_chunk(std::string_view(chunk).substr(0, n));
    EXPECT_FALSE(r) << n;
    if (!r) {
      EXPECT_EQ(r.error().kind, ErrorKind::upstream_error) << n;
    }
  }
}

TEST(OpenAiChunkParser, ReadsUsageChunkWithNullOrMissingChoices) {
  // vLLM ends with a usage-only chunk whose choices are null; others omit the member.
  for (std::string_view data :
       {R"({"id":"c","object":"chat.completion.chunk","model":"m","choices":null,
            "usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})",
        R"({"id":"c","model":"m","usage":{"prompt_tokens":3,"completion_tokens":4}})"}) {
    auto r = openai::parse_chunk(data);
    ASSERT_TRUE(r) << data;
    ASSERT_EQ(r->size(), 1u) << data;
    EXPECT_EQ((*r)[0].usage, (Usage{.prompt_tokens = 3, .completion_tokens = 4})) << data;
  }
}

TEST(OpenAiChunkParser, ToleratesWrongTypesInsideDeltas) {
  // Wrong-typed optional members are read as absent rather than failing the whole stream.
  auto r = openai::parse_chunk(
      R"({"choices":[{"index":"0","delta":{"role":5,"content":7},"finish_reason":3}]})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

}  // namespace
}  // namespace sy::backends
