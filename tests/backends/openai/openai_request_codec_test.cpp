// parse_chat_request / parse_completion_request / encode_chat_request: what clients send,
// what vendors receive, and every rejection with its `param`.

#include <gtest/gtest.h>

#include <string>

#include "backends/translator_test_support.h"
#include "request_equality.h"
#include "switchyard/backends/openai_json.h"

namespace sy::backends {
namespace {

using nlohmann::json;
namespace oa = openai;

class OpenAiRequestFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(OpenAiRequestFixture, EncodesWhatItParsedAndRoundTrips) {
  const std::string name = GetParam();
  const std::string body = testing::read_fixture("openai/requests/" + name + ".json");
  auto parsed = oa::parse_chat_request(body);
  ASSERT_TRUE(parsed) << name << ": " << parsed.error().message << " @" << parsed.error().param;

  const std::string encoded = oa::encode_chat_request(*parsed, parsed->stream);
  std::string expected_name = "openai/requests/" + name + ".encoded.json";
  const json expected = std::ifstream(testing::fixture_path(expected_name)).good()
                            ? testing::read_json_fixture(expected_name)
                            : json::parse(body);
  EXPECT_EQ(json::parse(encoded), expected) << name << "\n" << encoded;

  auto again = oa::parse_chat_request(encoded);
  ASSERT_TRUE(again) << again.error().message;
  testing::expect_same_request(*again, *parsed, name);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OpenAiRequestFixture,
                         ::testing::Values("full_chat", "simple_stream", "nulls_and_both_limits"),
                         [](const auto& info) { return info.param; });

TEST(OpenAiRequestParser, ReadsTheWholeVocabulary) {
  auto r = oa::parse_chat_request(testing::read_fixture("openai/requests/full_chat.json"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->surface, ApiSurface::chat_completions);
  EXPECT_EQ(r->model, "gpt-4o-2024-08-06");
  ASSERT_EQ(r->messages.size(), 8u);
  EXPECT_EQ(r->messages[0].role, Role::developer);
  EXPECT_TRUE(r->messages[0].content_is_text);
  EXPECT_EQ(r->messages[0].text(), "You are a terse assistant.");
  EXPECT_FALSE(r->messages[1].content_is_text);

  const Message& user = r->messages[2];
  EXPECT_EQ(user.name, "alice");
  ASSERT_EQ(user.content.size(), 5u);
  EXPECT_EQ(user.content[1].kind, ContentPart::Kind::image_url);
  EXPECT_EQ(user.content[1].url, "https://example.com/cat.png");
  EXPECT_EQ(user.content[1].detail, "high");
  EXPECT_EQ(user.content[2].detail, "");
  EXPECT_EQ(user.content[3].kind, ContentPart::Kind::other);
  EXPECT_EQ(json::parse(user.content[3].raw_json)["input_audio"]["format"], "wav");

  const Message& call = r->messages[3];
  EXPECT_TRUE(call.content_is_null);
  ASSERT_EQ(call.tool_calls.size(), 2u);
  EXPECT_EQ(call.tool_calls[0].id, "call_8fWc1uZ0");
  EXPECT_EQ(call.tool_calls[0].name, "get_weather");
  EXPECT_EQ(call.tool_calls[0].arguments, "{\"location\":\"Paris\"}");
  EXPECT_EQ(r->messages[4].role, Role::tool);
  EXPECT_EQ(r->messages[4].tool_call_id, "call_8fWc1uZ0");
  EXPECT_EQ(r->messages[6].refusal, "partly");
  ASSERT_EQ(r->messages[6].extra.size(), 1u);
  EXPECT_EQ(r->messages[6].extra[0].key, "audio");

  ASSERT_EQ(r->tools.size(), 2u);
  EXPECT_EQ(r->tools[0].strict, true);
  EXPECT_EQ(json::parse(r->tools[0].parameters_json)["required"][0], "location");
  EXPECT_EQ(r->tools[1].parameters_json, "");
  EXPECT_EQ(r->tool_choice.mode, ToolChoice::Mode::function);
  EXPECT_EQ(r->tool_choice.function_name, "get_weather");
  EXPECT_EQ(r->parallel_tool_calls, false);
  EXPECT_EQ(r->response_format.type, ResponseFormat::Type::json_schema);
  EXPECT_EQ(r->response_format.schema_name, "answer");
  EXPECT_EQ(r->response_format.strict, true);
  EXPECT_EQ(r->response_format.description, "The reply.");
  EXPECT_EQ(r->temperature, 0.7);
  EXPECT_EQ(r->top_p, 0.95);
  EXPECT_EQ(r->presence_penalty, -0.5);
  EXPECT_EQ(r->frequency_penalty, 1.25);
  EXPECT_EQ(r->max_tokens, 512);
  EXPECT_TRUE(r->max_tokens_is_completion);
  EXPECT_EQ(r->stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_EQ(r->seed, 42);
  EXPECT_EQ(r->n, 2);
  EXPECT_EQ(r->logprobs, true);
  EXPECT_EQ(r->top_logprobs, 3);
  EXPECT_EQ(r->user, "user-1234");
  // Metadata keeps the client's order.
  ASSERT_EQ(r->metadata.size(), 2u);
  EXPECT_EQ(r->metadata[0], (std::pair<std::string, std::string>{"zeta", "last"}));
  EXPECT_FALSE(r->stream);
  ASSERT_EQ(r->extra.size(), 4u);
  EXPECT_EQ(r->extra[0].key, "reasoning_effort");
  EXPECT_EQ(r->extra[0].value_json, "\"low\"");
  EXPECT_EQ(r->extra[1].key, "logit_bias");
  EXPECT_EQ(r->extra[1].value_json, "{\"50256\":-100}");
}

TEST(OpenAiRequestParser, ReadsStreamOptions) {
  auto r = oa::parse_chat_request(testing::read_fixture("openai/requests/simple_stream.json"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r->max_tokens, 16);
  EXPECT_FALSE(r->max_tokens_is_completion);
  EXPECT_EQ(r->tool_choice.mode, ToolChoice::Mode::required);
  EXPECT_EQ(r->response_format.type, ResponseFormat::Type::json_object);
}

TEST(OpenAiRequestParser, RejectsEachInvalidCaseWithItsParam) {
  const json cases = testing::read_json_fixture("openai/invalid_chat_requests.json");
  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    const std::string name = c["name"];
    auto r = oa::parse_chat_request(c["body"].get<std::string>());
    ASSERT_FALSE(r) << name << " was accepted";
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_request) << name;
    EXPECT_EQ(r.error().param, c["param"].get<std::string>()) << name;
    EXPECT_NE(r.error().message.find(c["message_contains"].get<std::string>()), std::string::npos)
        << name << ": " << r.error().message;
  }
}

TEST(OpenAiRequestParser, RejectsHugeNestingWithoutRecursing) {
  // 100k nested arrays would overflow a recursive parser's stack; the pre-scan stops it.
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"x"}],"x":)";
  body += std::string(100'000, '[') + std::string(100'000, ']') + "}";
  auto r = oa::parse_chat_request(body);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_request);
  EXPECT_NE(r.error().message.find("nested deeper"), std::string::npos);
}

TEST(OpenAiRequestParser, CountsDepthExactlyAndIgnoresBracketsInStrings) {
  auto nested = [](int depth) {
    // The body object is level 1 and "x" adds depth - 1 levels.
    return R"({"model":"m","messages":[{"role":"user","content":"[[[[{{{{\"]"}],"x":)" +
           std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
  };
  oa::ParseLimits limits{.max_depth = 8};
  EXPECT_TRUE(oa::parse_chat_request(nested(8), limits));
  EXPECT_FALSE(oa::parse_chat_request(nested(9), limits));
}

TEST(OpenAiRequestParser, AcceptsAssistantMessageWithoutContent) {
  auto r = oa::parse_chat_request(
      R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function",
          "function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1",
          "content":"ok"}]})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->messages[0].content_is_null);
  EXPECT_EQ(json::parse(oa::encode_chat_request(*r, false))["messages"][0]["content"], nullptr);
}

TEST(OpenAiCompletionRequestParser, ReadsLegacyPrompt) {
  auto r = oa::parse_completion_request(
      R"({"model":"gpt-3.5-turbo-instruct","prompt":["Say this is a test"],"max_tokens":7,
          "temperature":0,"logprobs":2,"echo":true,"stream":true})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->surface, ApiSurface::completions);
  EXPECT_EQ(r->prompt, "Say this is a test");
  EXPECT_EQ(r->max_tokens, 7);
  EXPECT_EQ(r->logprobs, true);
  EXPECT_EQ(r->top_logprobs, 2);
  EXPECT_TRUE(r->stream);
  ASSERT_EQ(r->extra.size(), 1u);
  EXPECT_EQ(r->extra[0].key, "echo");

  const json body = json::parse(oa::encode_chat_request(*r, true));
  EXPECT_EQ(body, json::parse(R"({"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test",
      "max_tokens":7,"logprobs":2,"temperature":0.0,"stream":true,
      "stream_options":{"include_usage":true},"echo":true})"));
}

TEST(OpenAiCompletionRequestParser, RejectsTokenPromptsAndMissingPrompt) {
  auto tokens = oa::parse_completion_request(R"({"model":"m","prompt":[1,2,3]})");
  ASSERT_FALSE(tokens);
  EXPECT_EQ(tokens.error().param, "prompt");
  auto several = oa::parse_completion_request(R"({"model":"m","prompt":["a","b"]})");
  ASSERT_FALSE(several);
  EXPECT_EQ(several.error().param, "prompt");
  auto missing = oa::parse_completion_request(R"({"model":"m"})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().param, "prompt");
  auto logprobs = oa::parse_completion_request(R"({"model":"m","prompt":"p","logprobs":6})");
  ASSERT_FALSE(logprobs);
  EXPECT_EQ(logprobs.error().param, "logprobs");
}

TEST(OpenAiRequestEncoder, AsksForUsageWhenStreaming) {
  ChatRequest r;
  r.model = "gpt-4o-mini";
  r.messages.push_back(Message{
      .role = Role::user, .content = {ContentPart{.kind = ContentPart::Kind::text, .text = "Hi"}}});
  r.stream = true;  // the client's flag does not matter, the argument does
  EXPECT_EQ(json::parse(oa::encode_chat_request(r, true)),
            json::parse(R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],
                "stream":true,"stream_options":{"include_usage":true}})"));
  EXPECT_EQ(json::parse(oa::encode_chat_request(r, false)),
            json::parse(R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]})"));
}

TEST(OpenAiRequestEncoder, KnownMembersWinOverPassthroughAndBadPassthroughIsDropped) {
  ChatRequest r;
  r.model = "m";
  r.messages.push_back(Message{.content = {ContentPart{.text = "x"}}});
  r.extra = {{"model", "\"evil\""},
             {"broken", "{not json"},
             {"top_k", "40"},
             {"stream", "true"},
             {"stream_options", "{}"}};
  const json body = json::parse(oa::encode_chat_request(r, false));
  EXPECT_EQ(body["model"], "m");
  EXPECT_FALSE(body.contains("stream"));
  EXPECT_FALSE(body.contains("stream_options"));
  EXPECT_FALSE(body.contains("broken"));
  EXPECT_EQ(body["top_k"], 40);
}

TEST(OpenAiRequestEncoder, EncodesPartsAndToolChoiceModes) {
  ChatRequest r;
  r.model = "m";
  Message m{.role = Role::user, .content_is_text = false};
  m.content.push_back(ContentPart{.kind = ContentPart::Kind::text, .text = "look"});
  m.content.push_back(
      ContentPart{.kind = ContentPart::Kind::image_url, .url = "https://x/y.png", .detail = "low"});
  r.messages.push_back(m);
  r.tool_choice.mode = ToolChoice::Mode::auto_;
  const json body = json::parse(oa::encode_chat_request(r, false));
  EXPECT_EQ(body["messages"][0]["content"], json::parse(R"([{"type":"text","text":"look"},
      {"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}])"));
  EXPECT_EQ(body["tool_choice"], "auto");
}

}  // namespace
}  // namespace sy::backends

namespace sy::backends {
namespace {

// Every prefix of a valid body is either a request or a clean invalid_request: the parser
// never throws or crashes on truncated input (what a cut connection or a fuzzer gives).
TEST(OpenAiRequestParser, NeverThrowsOnTruncatedBodies) {
  const std::string body = testing::read_fixture("openai/requests/full_chat.json");
  for (size_t n = 0; n < body.size(); ++n) {
    auto r = openai::parse_chat_request(std::string_view(body).substr(0, n));
    if (!r) {
      EXPECT_EQ(r.error().kind, ErrorKind::invalid_request) << n;
    }
  }
}

TEST(OpenAiRequestParser, IgnoresNullRoleSpecificMembersOnOtherRoles) {
  auto r = openai::parse_chat_request(
      R"({"model":"m","messages":[{"role":"user","content":"x","tool_calls":null,
          "refusal":null,"tool_call_id":null}]})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->messages[0].extra.empty());
}

}  // namespace
}  // namespace sy::backends
