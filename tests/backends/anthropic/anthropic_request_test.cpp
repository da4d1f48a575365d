#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backends/chat_builders.h"
#include "backends/translator_test_support.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {
namespace {

using nlohmann::json;
using testing::assistant_calls;
using testing::image_part;
using testing::read_json_fixture;
using testing::text_message;
using testing::tool_result;

Endpoint local_endpoint() {
  return Endpoint{.base_url = "http://127.0.0.1:9/", .api_key = "sk-ant-test"};
}

json encode_body(const ChatRequest& request, bool stream = false) {
  auto http = make_anthropic_translator()->encode_request(request, local_endpoint(), stream);
  EXPECT_TRUE(http.has_value()) << (http ? "" : http.error().message);
  if (!http) return nullptr;
  return json::parse(http->body);
}

TEST(AnthropicTranslator, EncodesSystemSamplingAndMetadata) {
  ChatRequest request;
  request.model = "claude-sonnet-4-5";
  request.messages = {
      text_message(Role::system, "You are terse."), text_message(Role::user, "Hi there"),
      text_message(Role::developer, "Answer in English."), text_message(Role::assistant, "Hello."),
      text_message(Role::user, "What is 2+2?")};
  request.max_tokens = 256;
  request.temperature = 0.2;
  request.top_p = 0.9;
  request.stop = {"\n\nHuman:", "END"};
  request.user = "user-123";
  request.seed = 7;                // no Anthropic equivalent: dropped
  request.presence_penalty = 0.5;  // idem
  EXPECT_EQ(encode_body(request, true), read_json_fixture("anthropic/requests/basic.json"));
}

TEST(AnthropicTranslator, EncodesToolCallsAndMergesToolResultsIntoOneUserTurn) {
  ChatRequest request;
  request.model = "claude-sonnet-4-5";
  request.messages = {
      text_message(Role::user, "Weather in SF and Paris?"),
      assistant_calls("Checking.",
                      {ToolCall{"call_1", "get_weather", R"({"location":"San Francisco"})"},
                       ToolCall{"call_2", "get_weather", ""}}),
      tool_result("call_1", R"({"temp":18})"),
      tool_result("call_2", "sunny"),
      text_message(Role::user, "And tomorrow?"),
  };
  request.tools = {testing::weather_tool(), Tool{.name = "now"}};
  request.tool_choice.mode = ToolChoice::Mode::required;
  request.parallel_tool_calls = false;
  EXPECT_EQ(encode_body(request), read_json_fixture("anthropic/requests/tools.json"));
}

TEST(AnthropicTranslator, EncodesDataAndHttpImages) {
  ChatRequest request;
  request.model = "claude-sonnet-4-5";
  request.max_tokens = 100;
  Message user = text_message(Role::user, "Compare these.");
  user.content_is_text = false;
  user.content.push_back(image_part("data:image/png;base64,iVBORw0KGgo="));
  user.content.push_back(image_part("https://example.com/cat.jpg"));
  request.messages = {user};
  EXPECT_EQ(encode_body(request), read_json_fixture("anthropic/requests/images.json"));
}

TEST(AnthropicTranslator, EmulatesJsonSchemaWithASystemInstruction) {
  ChatRequest request;
  request.model = "claude-haiku-4-5";
  request.messages = {text_message(Role::system, "Extract fields."),
                      text_message(Role::user, "Ada Lovelace, 1815")};
  request.response_format.type = ResponseFormat::Type::json_schema;
  request.response_format.schema_name = "person";
  request.response_format.schema_json =
      R"({"type":"object","properties":{"name":{"type":"string"}}})";
  EXPECT_EQ(encode_body(request), read_json_fixture("anthropic/requests/json_schema.json"));
}

TEST(AnthropicTranslator, AsksForJsonOnlyInJsonObjectMode) {
  ChatRequest request;
  request.model = "m";
  request.messages = {text_message(Role::user, "list colors")};
  request.response_format.type = ResponseFormat::Type::json_object;
  json body = encode_body(request);
  ASSERT_TRUE(body.contains("system"));
  EXPECT_NE(body["system"].get<std::string>().find("JSON object only"), std::string::npos);
}

TEST(AnthropicTranslator, BuildsUrlHeadersAndDefaults) {
  ChatRequest request;
  request.model = "m";
  request.messages = {text_message(Role::user, "hi")};
  Endpoint endpoint = local_endpoint();
  endpoint.headers = {{"x-extra", "1"}};
  auto http = make_anthropic_translator()->encode_request(request, endpoint, false);
  ASSERT_TRUE(http.has_value());
  EXPECT_EQ(http->method, "POST");
  EXPECT_EQ(http->url, "http://127.0.0.1:9/v1/messages");
  EXPECT_EQ(find_header(http->headers, "x-api-key"), "sk-ant-test");
  EXPECT_EQ(find_header(http->headers, "anthropic-version"), "2023-06-01");
  EXPECT_EQ(find_header(http->headers, "content-type"), "application/json");
  EXPECT_EQ(find_header(http->headers, "x-extra"), "1");
  EXPECT_FALSE(find_header(http->headers, "authorization").has_value());
  json body = json::parse(http->body);
  EXPECT_EQ(body["max_tokens"], 4096);
  EXPECT_FALSE(body.contains("stream"));

  endpoint.api_version = "2024-01-01";
  endpoint.base_url = "http://127.0.0.1:9/v1";
  http = make_anthropic_translator()->encode_request(request, endpoint, true);
  ASSERT_TRUE(http.has_value());
  EXPECT_EQ(http->url, "http://127.0.0.1:9/v1/messages");
  EXPECT_EQ(find_header(http->headers, "anthropic-version"), "2024-01-01");
  EXPECT_EQ(json::parse(http->body)["stream"], true);
}

TEST(AnthropicTranslator, MapsEveryToolChoice) {
  ChatRequest request;
  request.model = "m";
  request.messages = {text_message(Role::user, "hi")};
  request.tools = {testing::weather_tool()};
  EXPECT_FALSE(encode_body(request).contains("tool_choice"));
  request.tool_choice.mode = ToolChoice::Mode::auto_;
  EXPECT_EQ(encode_body(request)["tool_choice"], json({{"type", "auto"}}));
  request.tool_choice.mode = ToolChoice::Mode::none;
  EXPECT_EQ(encode_body(request)["tool_choice"], json({{"type", "none"}}));
  request.tool_choice =
      ToolChoice{.mode = ToolChoice::Mode::function, .function_name = "get_weather"};
  EXPECT_EQ(encode_body(request)["tool_choice"], json({{"type", "tool"}, {"name", "get_weather"}}));
  request.tool_choice = {};
  request.parallel_tool_calls = false;
  EXPECT_EQ(encode_body(request)["tool_choice"],
            json({{"type", "auto"}, {"disable_parallel_tool_use", true}}));
}

TEST(AnthropicTranslator, RejectsInvalidToolArguments) {
  ChatRequest request;
  request.model = "m";
  request.messages = {text_message(Role::user, "hi"),
                      assistant_calls("", {ToolCall{"c1", "f", "{not json"}})};
  auto http = make_anthropic_translator()->encode_request(request, local_endpoint(), false);
  ASSERT_FALSE(http.has_value());
  EXPECT_EQ(http.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(http.error().param, "messages[1].tool_calls[0].function.arguments");
}

TEST(AnthropicTranslator, RejectsWhatTheProtocolCannotCarry) {
  auto translator = make_anthropic_translator();
  EXPECT_FALSE(translator->capabilities().multiple_choices);
  ChatRequest request;
  request.model = "m";
  request.messages = {text_message(Role::user, "hi")};
  request.n = 2;
  auto http = translator->encode_request(request, local_endpoint(), false);
  ASSERT_FALSE(http.has_value());
  EXPECT_EQ(http.error().kind, ErrorKind::invalid_request);

  request.n.reset();
  request.messages[0].content.push_back(
      ContentPart{.kind = ContentPart::Kind::other, .raw_json = R"({"type":"input_audio"})"});
  http = translator->encode_request(request, local_endpoint(), false);
  ASSERT_FALSE(http.has_value());
  EXPECT_EQ(http.error().kind, ErrorKind::invalid_request);

  for (std::string url :
       {"ftp://example.com/x.png", "data:text/plain,hello", "data:image/png;base64,not base64!"}) {
    request.messages[0].content = {image_part(url)};
    http = translator->encode_request(request, local_endpoint(), false);
    ASSERT_FALSE(http.has_value()) << url;
    EXPECT_EQ(http.error().kind, ErrorKind::invalid_request) << url;
    EXPECT_EQ(http.error().param, "messages[0].content[0]") << url;
  }
}

TEST(AnthropicTranslator, LeavesOutEmptyMessagesAndKeepsTurnsAlternating) {
  ChatRequest request;
  request.model = "m";
  request.messages = {text_message(Role::user, "a"), text_message(Role::assistant, ""),
                      text_message(Role::user, "b")};
  json body = encode_body(request);
  EXPECT_EQ(body["messages"],
            json::parse(R"([{"role":"user","content":[)"
                        R"({"type":"text","text":"a"},{"type":"text","text":"b"}]}])"));
}

TEST(AnthropicTranslator, SendsImageToolOutputAsBlocksAndEmptyOutputWithoutContent) {
  ChatRequest request;
  request.model = "m";
  Message with_image = tool_result("c1", "chart:");
  with_image.content.push_back(image_part("https://example.com/chart.png"));
  request.messages = {
      text_message(Role::user, "plot it"),
      assistant_calls("", {ToolCall{"c1", "plot", "{}"}, ToolCall{"c2", "log", ""}}), with_image,
      tool_result("c2", "")};
  json body = encode_body(request);
  EXPECT_EQ(body["messages"][2], json::parse(R"({"role":"user","content":[
    {"type":"tool_result","tool_use_id":"c1","content":[
      {"type":"text","text":"chart:"},
      {"type":"image","source":{"type":"url","url":"https://example.com/chart.png"}}]},
    {"type":"tool_result","tool_use_id":"c2"}]})"));
}

TEST(AnthropicTranslator, SendsLegacyPromptAsOneUserTurn) {
  ChatRequest request;
  request.surface = ApiSurface::completions;
  request.model = "m";
  request.prompt = "Once upon a time";
  json body = encode_body(request);
  EXPECT_EQ(body["messages"], json::parse(R"([{"role":"user","content":"Once upon a time"}])"));
}

}  // namespace
}  // namespace sy::backends
