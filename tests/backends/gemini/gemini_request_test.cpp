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
  return Endpoint{.base_url = "http://127.0.0.1:9", .api_key = "gm-test-key"};
}

Result<HttpRequest> encode(const ChatRequest& request, bool stream = false) {
  return make_gemini_translator()->encode_request(request, local_endpoint(), stream);
}

json encode_body(const ChatRequest& request) {
  auto http = encode(request);
  EXPECT_TRUE(http.has_value()) << (http ? "" : http.error().message);
  if (!http) return nullptr;
  return json::parse(http->body);
}

TEST(GeminiTranslator, EncodesSystemInstructionAndGenerationConfig) {
  ChatRequest request;
  request.model = "gemini-2.5-flash";
  request.messages = {text_message(Role::system, "You are terse."),
                      text_message(Role::user, "Hi there"), text_message(Role::assistant, "Hello."),
                      text_message(Role::developer, "Answer in English."),
                      text_message(Role::user, "List two colors as JSON.")};
  request.temperature = 0.2;
  request.top_p = 0.9;
  request.max_tokens = 256;
  request.stop = {"END"};
  request.n = 2;
  request.seed = 7;
  request.response_format.type = ResponseFormat::Type::json_object;
  EXPECT_EQ(encode_body(request), read_json_fixture("gemini/requests/basic.json"));
}

TEST(GeminiTranslator, EncodesFunctionCallsAndNamesFunctionResponses) {
  ChatRequest request;
  request.model = "gemini-2.5-flash";
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
  request.tool_choice =
      ToolChoice{.mode = ToolChoice::Mode::function, .function_name = "get_weather"};
  EXPECT_EQ(encode_body(request), read_json_fixture("gemini/requests/tools.json"));
}

TEST(GeminiTranslator, EncodesInlineAndFileImages) {
  ChatRequest request;
  request.model = "gemini-2.5-flash";
  Message user = text_message(Role::user, "Compare these.");
  user.content_is_text = false;
  user.content.push_back(image_part("data:image/png;base64,iVBORw0KGgo="));
  user.content.push_back(image_part("https://example.com/cat.jpg"));
  user.content.push_back(image_part("https://example.com/render?id=3"));
  request.messages = {user};
  EXPECT_EQ(encode_body(request), read_json_fixture("gemini/requests/images.json"));
}

TEST(GeminiTranslator, SendsJsonSchemaAsResponseJsonSchema) {
  ChatRequest request;
  request.model = "gemini-2.5-flash";
  request.messages = {text_message(Role::user, "Ada Lovelace, 1815")};
  request.response_format.type = ResponseFormat::Type::json_schema;
  request.response_format.schema_name = "person";
  request.response_format.schema_json =
      R"({"type":"object","properties":{"name":{"type":"string"}},"additionalProperties":false})";
  EXPECT_EQ(encode_body(request), read_json_fixture("gemini/requests/json_schema.json"));
}

TEST(GeminiTranslator, MapsEveryToolChoice) {
  ChatRequest request;
  request.model = "m";
  request.messages = {text_message(Role::user, "hi")};
  request.tools = {testing::weather_tool()};
  EXPECT_FALSE(encode_body(request).contains("toolConfig"));
  auto mode = [&](ToolChoice::Mode m) {
    request.tool_choice.mode = m;
    return encode_body(request)["toolConfig"]["functionCallingConfig"]["mode"];
  };
  request.tool_choice.mode = ToolChoice::Mode::auto_;  // Gemini's default: left out
  EXPECT_FALSE(encode_body(request).contains("toolConfig"));
  EXPECT_EQ(mode(ToolChoice::Mode::none), "NONE");
  EXPECT_EQ(mode(ToolChoice::Mode::required), "ANY");
}

TEST(GeminiTranslator, BuildsUrlsAndHeaders) {
  ChatRequest request;
  request.model = "gemini-2.5-flash";
  request.messages = {text_message(Role::user, "hi")};
  auto http = encode(request);
  ASSERT_TRUE(http.has_value());
  EXPECT_EQ(http->url, "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:generateContent");
  EXPECT_EQ(find_header(http->headers, "x-goog-api-key"), "gm-test-key");
  EXPECT_EQ(find_header(http->headers, "content-type"), "application/json");
  EXPECT_FALSE(find_header(http->headers, "authorization").has_value());
  EXPECT_EQ(http->url.find("key="), std::string::npos);  // the key never rides in the URL

  request.model = "models/gemini-2.5-pro";
  http = encode(request, true);
  ASSERT_TRUE(http.has_value());
  EXPECT_EQ(http->url,
            "http://127.0.0.1:9/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse");
  EXPECT_FALSE(json::parse(http->body).contains("stream"));
}

TEST(GeminiTranslator, RefusesModelNamesThatWouldSteerTheUrl) {
  ChatRequest request;
  request.messages = {text_message(Role::user, "hi")};
  for (std::string model : {"../admin", "a/b", "m?key=x", "m#x", "m:streamGenerateContent", ""}) {
    request.model = model;
    auto http = encode(request);
    ASSERT_FALSE(http.has_value()) << model;
    EXPECT_EQ(http.error().kind, ErrorKind::invalid_request) << model;
  }
}

TEST(GeminiTranslator, RejectsToolResultsWithoutAMatchingCall) {
  ChatRequest request;
  request.model = "m";
  request.messages = {text_message(Role::user, "hi"), tool_result("call_unknown", "42")};
  auto http = encode(request);
  ASSERT_FALSE(http.has_value());
  EXPECT_EQ(http.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(http.error().param, "messages[1].tool_call_id");
}

TEST(GeminiTranslator, NamesAToolResultFromTheMessageWhenNoCallMatches) {
  ChatRequest request;
  request.model = "m";
  Message result = tool_result("call_elsewhere", "not json at all");
  result.name = "lookup";
  request.messages = {text_message(Role::user, "hi"), result};
  json body = encode_body(request);
  EXPECT_EQ(body["contents"][0]["parts"][1],
            json::parse(R"({"functionResponse":{"name":"lookup",)"
                        R"("response":{"result":"not json at all"}}})"));
}

TEST(GeminiTranslator, RejectsInvalidToolArguments) {
  ChatRequest request;
  request.model = "m";
  request.messages = {text_message(Role::user, "hi"),
                      assistant_calls("", {ToolCall{"c1", "f", "[1,2"}})};
  auto http = encode(request);
  ASSERT_FALSE(http.has_value());
  EXPECT_EQ(http.error().kind, ErrorKind::invalid_request);
}

TEST(GeminiTranslator, SupportsMultipleChoices) {
  EXPECT_TRUE(make_gemini_translator()->capabilities().multiple_choices);
  EXPECT_EQ(make_gemini_translator()->protocol(), "gemini");
}

}  // namespace
}  // namespace sy::backends
