// Anthropic Messages requests -> ChatRequest: every block type, the native body kept byte for
// byte, and every bad input answered as Anthropic would (400 invalid_request_error naming the
// field; cases in tests/fixtures/anthropic_surface/invalid_requests.json).

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "api/anthropic_error_reply.h"
#include "api/anthropic_request_parser.h"

namespace sy::gateway {
namespace {

using backends::ContentPart;
using backends::Role;
using nlohmann::json;

backends::ChatRequest parse_ok(const json& body, const backends::Headers& headers = {}) {
  auto parsed = parse_messages_request(body.dump(), headers);
  EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
  return parsed ? *parsed : backends::ChatRequest{};
}

json base(json messages) {
  return {{"model", "fast"}, {"max_tokens", 64}, {"messages", std::move(messages)}};
}

TEST(AnthropicRequestParser, ParsesTheBasicFieldsAndKeepsTheNativeBody) {
  json body = base({{{"role", "user"}, {"content", "Hello"}}});
  body["system"] = "Be brief.";
  body["stop_sequences"] = {"END", "STOP"};
  body["metadata"] = {{"user_id", "user-42"}};
  body["temperature"] = 0.5;
  body["top_p"] = 0.9;
  body["top_k"] = 40;
  body["stream"] = true;
  body["thinking"] = {{"type", "enabled"}, {"budget_tokens", 1024}};
  std::string text = body.dump(2);
  auto parsed = parse_messages_request(
      text, {{"anthropic-version", "2023-06-01"}, {"anthropic-beta", "a-2025-01-01,b"}});
  ASSERT_TRUE(parsed) << parsed.error().message;
  const backends::ChatRequest& r = *parsed;
  EXPECT_EQ(r.surface, backends::ApiSurface::messages);
  EXPECT_EQ(r.model, "fast");
  EXPECT_EQ(r.max_tokens, 64);
  EXPECT_TRUE(r.stream);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, Role::system);
  EXPECT_EQ(r.messages[0].text(), "Be brief.");
  EXPECT_EQ(r.messages[1].role, Role::user);
  EXPECT_TRUE(r.messages[1].content_is_text);
  EXPECT_EQ(r.messages[1].text(), "Hello");
  EXPECT_EQ(r.stop, (std::vector<std::string>{"END", "STOP"}));
  EXPECT_EQ(r.user, "user-42");
  EXPECT_EQ(r.temperature, 0.5);
  EXPECT_EQ(r.top_p, 0.9);
  json extra;
  for (const auto& f : r.extra) extra[f.key] = json::parse(f.value_json);
  EXPECT_EQ(extra["top_k"], 40);
  EXPECT_EQ(extra["thinking"], body["thinking"]);
  ASSERT_TRUE(r.native);
  EXPECT_EQ(r.native->protocol, "anthropic");
  EXPECT_EQ(r.native->body, text) << "the client's bytes, untouched";
  EXPECT_EQ(r.native->headers,
            (backends::Headers{{"anthropic-version", "2023-06-01"},
                               {"anthropic-beta", "a-2025-01-01,b"}}));
}

TEST(AnthropicRequestParser, SystemBlocksBecomeOneSystemMessage) {
  json body = base({{{"role", "user"}, {"content", "Hi"}}});
  body["system"] = {{{"type", "text"}, {"text", "One."}, {"cache_control", {{"type", "ephemeral"}}}},
                    {{"type", "text"}, {"text", "Two."}}};
  auto r = parse_ok(body);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, Role::system);
  ASSERT_EQ(r.messages[0].content.size(), 2u);
  EXPECT_EQ(r.messages[0].content[1].text, "Two.");
}

TEST(AnthropicRequestParser, ImagesAndDocuments) {
  json blocks = json::array({
      {{"type", "image"},
       {"source", {{"type", "base64"}, {"media_type", "image/png"}, {"data", "iVBORw0KGgo="}}}},
      {{"type", "image"}, {"source", {{"type", "url"}, {"url", "https://example.com/a.jpg"}}}},
      {{"type", "image"}, {"source", {{"type", "file"}, {"file_id", "file_01"}}}},
      {{"type", "document"},
       {"title", "Memo"},
       {"source", {{"type", "text"}, {"media_type", "text/plain"}, {"data", "Body text."}}}},
      {{"type", "document"},
       {"source",
        {{"type", "base64"}, {"media_type", "application/pdf"}, {"data", "JVBERi0="}}}},
      {{"type", "text"}, {"text", "Describe these."}},
  });
  auto r = parse_ok(base({{{"role", "user"}, {"content", blocks}}}));
  ASSERT_EQ(r.messages.size(), 1u);
  const auto& parts = r.messages[0].content;
  EXPECT_FALSE(r.messages[0].content_is_text);
  ASSERT_EQ(parts.size(), 6u);
  EXPECT_EQ(parts[0].kind, ContentPart::Kind::image_url);
  EXPECT_EQ(parts[0].url, "data:image/png;base64,iVBORw0KGgo=");
  EXPECT_EQ(parts[1].kind, ContentPart::Kind::image_url);
  EXPECT_EQ(parts[1].url, "https://example.com/a.jpg");
  EXPECT_EQ(parts[2].kind, ContentPart::Kind::other);
  EXPECT_EQ(json::parse(parts[2].raw_json), blocks[2]);
  EXPECT_EQ(parts[3].kind, ContentPart::Kind::text);
  EXPECT_EQ(parts[3].text, "Memo\n\nBody text.");
  EXPECT_EQ(parts[4].kind, ContentPart::Kind::other);
  EXPECT_EQ(json::parse(parts[4].raw_json), blocks[4]);
  EXPECT_EQ(parts[5].text, "Describe these.");
}

TEST(AnthropicRequestParser, ToolUseAndToolResultRoundTrip) {
  json body = base({
      {{"role", "user"}, {"content", "Weather in Paris and Oslo?"}},
      {{"role", "assistant"},
       {"content",
        {{{"type", "thinking"}, {"thinking", "Two cities."}, {"signature", "c2lnbmVk"}},
         {{"type", "redacted_thinking"}, {"data", "b3BhcXVl"}},
         {{"type", "text"}, {"text", "Checking."}},
         {{"type", "tool_use"}, {"id", "toolu_1"}, {"name", "weather"}, {"input", {{"city", "Paris"}}}},
         {{"type", "tool_use"}, {"id", "toolu_2"}, {"name", "weather"}, {"input", {{"city", "Oslo"}}}}}}},
      {{"role", "user"},
       {"content",
        {{{"type", "tool_result"}, {"tool_use_id", "toolu_1"}, {"content", "sunny"}},
         {{"type", "tool_result"},
          {"tool_use_id", "toolu_2"},
          {"is_error", true},
          {"content", {{{"type", "text"}, {"text", "timeout"}}}}},
         {{"type", "text"}, {"text", "Summarize."}}}}},
  });
  body["tools"] = {{{"name", "weather"},
                    {"description", "Weather now"},
                    {"input_schema", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}},
                   {{"type", "web_search_20250305"}, {"name", "web_search"}, {"max_uses", 2}}};
  body["tool_choice"] = {{"type", "any"}, {"disable_parallel_tool_use", true}};
  auto r = parse_ok(body);
  ASSERT_EQ(r.messages.size(), 5u);
  const auto& assistant = r.messages[1];
  EXPECT_EQ(assistant.role, Role::assistant);
  ASSERT_EQ(assistant.content.size(), 3u);
  EXPECT_EQ(assistant.content[0].kind, ContentPart::Kind::other);
  EXPECT_EQ(json::parse(assistant.content[0].raw_json)["signature"], "c2lnbmVk");
  EXPECT_EQ(json::parse(assistant.content[1].raw_json)["type"], "redacted_thinking");
  EXPECT_EQ(assistant.content[2].text, "Checking.");
  ASSERT_EQ(assistant.tool_calls.size(), 2u);
  EXPECT_EQ(assistant.tool_calls[0].id, "toolu_1");
  EXPECT_EQ(json::parse(assistant.tool_calls[1].arguments), (json{{"city", "Oslo"}}));
  EXPECT_EQ(r.messages[2].role, Role::tool);
  EXPECT_EQ(r.messages[2].tool_call_id, "toolu_1");
  EXPECT_EQ(r.messages[2].text(), "sunny");
  EXPECT_EQ(r.messages[3].tool_call_id, "toolu_2");
  EXPECT_EQ(r.messages[3].text(), "Error: timeout");
  EXPECT_EQ(r.messages[4].role, Role::user);
  EXPECT_EQ(r.messages[4].text(), "Summarize.");
  ASSERT_EQ(r.tools.size(), 1u) << "the server tool runs at Anthropic only";
  EXPECT_EQ(r.tools[0].name, "weather");
  EXPECT_EQ(json::parse(r.tools[0].parameters_json)["type"], "object");
  EXPECT_EQ(r.tool_choice.mode, backends::ToolChoice::Mode::required);
  EXPECT_EQ(r.parallel_tool_calls, false);
}

TEST(AnthropicRequestParser, ToolChoiceModes) {
  for (auto [choice, mode] :
       {std::pair{json{{"type", "auto"}}, backends::ToolChoice::Mode::auto_},
        {json{{"type", "none"}}, backends::ToolChoice::Mode::none},
        {json{{"type", "tool"}, {"name", "f"}}, backends::ToolChoice::Mode::function}}) {
    json body = base({{{"role", "user"}, {"content", "x"}}});
    body["tools"] = {{{"name", "f"}, {"input_schema", {{"type", "object"}}}}};
    body["tool_choice"] = choice;
    auto r = parse_ok(body);
    EXPECT_EQ(r.tool_choice.mode, mode) << choice.dump();
    EXPECT_FALSE(r.parallel_tool_calls.has_value());
  }
}

TEST(AnthropicRequestParser, AssistantTurnOfOnlyToolUseHasNullContent) {
  auto r = parse_ok(base({{{"role", "user"}, {"content", "x"}},
                          {{"role", "assistant"},
                           {"content", {{{"type", "tool_use"}, {"id", "t"}, {"name", "f"}, {"input", json::object()}}}}}}));
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_TRUE(r.messages[1].content_is_null);
  EXPECT_EQ(r.messages[1].tool_calls.size(), 1u);
}

TEST(AnthropicRequestParser, CountTokensNeedsNoMaxTokens) {
  json body = {{"model", "fast"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}};
  auto parsed = parse_messages_request(body.dump(), {}, /*count_tokens=*/true);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_FALSE(parsed->max_tokens);
  EXPECT_FALSE(parse_messages_request(body.dump(), {}));
}

TEST(AnthropicRequestParser, RefusesHostileHeadersAndNesting) {
  json body = base({{{"role", "user"}, {"content", "x"}}});
  auto bad = parse_messages_request(body.dump(), {{"anthropic-version", "2023-06-01\r\nx: y"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, backends::ErrorKind::invalid_request);
  std::string deep(5000, '[');
  auto nested = parse_messages_request(deep, {});
  ASSERT_FALSE(nested);
  EXPECT_EQ(anthropic_error_reply(nested.error(), "r").status, 400);
}

TEST(AnthropicRequestParser, BadInputsGetAnthropicErrors) {
  std::ifstream file(std::string(SWITCHYARD_FIXTURES_DIR) +
                     "/anthropic_surface/invalid_requests.json");
  ASSERT_TRUE(file);
  json cases = json::parse(file);
  ASSERT_GE(cases.size(), 30u);
  for (const json& c : cases) {
    std::string name = c["name"];
    std::string text = c.contains("raw") ? c["raw"].get<std::string>() : c["body"].dump();
    auto parsed = parse_messages_request(text, {});
    ASSERT_FALSE(parsed) << name;
    EXPECT_EQ(parsed.error().kind, backends::ErrorKind::invalid_request) << name;
    EXPECT_EQ(parsed.error().param, c["param"].get<std::string>()) << name;
    if (c.contains("says")) {
      EXPECT_NE(parsed.error().message.find(c["says"].get<std::string>()), std::string::npos)
          << name << ": " << parsed.error().message;
    }
    ErrorReply reply = anthropic_error_reply(parsed.error(), "req_1");
    EXPECT_EQ(reply.status, 400) << name;
    json j = json::parse(reply.body);
    EXPECT_EQ(j["type"], "error") << name;
    EXPECT_EQ(j["error"]["type"], "invalid_request_error") << name;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty()) << name;
    EXPECT_EQ(j["request_id"], "req_1");
  }
}

TEST(AnthropicErrorReply, MapsEveryKindToAnthropicsStatusAndType) {
  using backends::ErrorKind;
  struct Case {
    ErrorKind kind;
    int status;
    std::string type;
  };
  for (const Case& c : std::vector<Case>{{ErrorKind::invalid_request, 400, "invalid_request_error"},
                                         {ErrorKind::authentication, 401, "authentication_error"},
                                         {ErrorKind::permission_denied, 403, "permission_error"},
                                         {ErrorKind::not_found, 404, "not_found_error"},
                                         {ErrorKind::payload_too_large, 413, "request_too_large"},
                                         {ErrorKind::rate_limited, 429, "rate_limit_error"},
                                         {ErrorKind::internal, 500, "api_error"},
                                         {ErrorKind::upstream_error, 500, "api_error"},
                                         {ErrorKind::upstream_unavailable, 529, "overloaded_error"},
                                         {ErrorKind::overloaded, 529, "overloaded_error"}}) {
    backends::Error error{.kind = c.kind, .message = "m",
                          .retry_after = std::chrono::milliseconds(1500)};
    ErrorReply reply = anthropic_error_reply(error, "");
    EXPECT_EQ(reply.status, c.status);
    EXPECT_EQ(json::parse(reply.body)["error"]["type"], c.type);
    bool retry_after = backends::find_header(reply.headers, "retry-after").has_value();
    EXPECT_EQ(retry_after, c.status == 429 || c.status == 529);
  }
  // A vendor refusing the gateway's own key is not the client's authentication problem.
  backends::Error vendor_auth{.kind = ErrorKind::authentication, .message = "bad key",
                              .backend = "claude"};
  EXPECT_EQ(anthropic_error_reply(vendor_auth, "").status, 500);
}

}  // namespace
}  // namespace sy::gateway
