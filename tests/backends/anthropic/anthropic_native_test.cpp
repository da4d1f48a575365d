// The Anthropic translator's side of the native pass-through: encode_native forwards the
// client's bytes with only `model` replaced and the client's version/beta headers; a request
// from the Anthropic surface that is re-encoded (no native body) keeps its Anthropic blocks and
// members; adapt_for strips them for any backend that does not speak Anthropic.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "anthropic/anthropic_translator.h"
#include "switchyard/backends/fallback.h"

namespace sy::backends {
namespace {

using nlohmann::json;

constexpr char kThinking[] =
    R"({"type":"thinking","thinking":"Hmm.","signature":"c2lnbmVk"})";

ChatRequest messages_surface_request() {
  ChatRequest r;
  r.surface = ApiSurface::messages;
  r.model = "claude-x";
  r.messages.push_back(Message{.content = {ContentPart{.text = "Hi"}}});
  Message assistant{.role = Role::assistant, .content_is_text = false};
  assistant.content.push_back(ContentPart{.kind = ContentPart::Kind::other, .raw_json = kThinking});
  assistant.content.push_back(ContentPart{.text = "Calling."});
  assistant.tool_calls.push_back({.id = "toolu_1", .name = "f", .arguments = "{}"});
  r.messages.push_back(assistant);
  r.messages.push_back(Message{.role = Role::tool, .content = {ContentPart{.text = "ok"}},
                               .tool_call_id = "toolu_1"});
  r.extra.push_back({"top_k", "5"});
  r.extra.push_back({"thinking", R"({"type":"enabled","budget_tokens":1024})"});
  return r;
}

TEST(AnthropicNative, EncodeNativeReplacesOnlyTheModel) {
  anthropic::AnthropicTranslator translator;
  EXPECT_EQ(translator.capabilities().native_protocol, "anthropic");
  NativeRequest native{.protocol = "anthropic",
                       .body = R"({"model":"alias",  "max_tokens":5,"messages":[]})",
                       .headers = {{"anthropic-version", "2099-01-01"}, {"anthropic-beta", "b1"}}};
  Endpoint endpoint{.base_url = "http://127.0.0.1:1", .api_key = "sk-v",
                    .headers = {{"anthropic-beta", "config-beta"}, {"x-extra", "1"}}};
  auto http = translator.encode_native(native, "claude-x", endpoint, true);
  ASSERT_TRUE(http) << http.error().message;
  EXPECT_EQ(http->url, "http://127.0.0.1:1/v1/messages");
  EXPECT_EQ(http->body, R"({"model":"claude-x",  "max_tokens":5,"messages":[]})");
  EXPECT_EQ(find_header(http->headers, "anthropic-version"), "2099-01-01");
  EXPECT_EQ(find_header(http->headers, "anthropic-beta"), "b1") << "the client's list wins";
  EXPECT_EQ(find_header(http->headers, "x-extra"), "1");
  EXPECT_EQ(find_header(http->headers, "x-api-key"), "sk-v");
  EXPECT_EQ(find_header(http->headers, "accept"), "text/event-stream");
  native.protocol = "openai";
  EXPECT_FALSE(translator.encode_native(native, "m", endpoint, false));
}

TEST(AnthropicNative, ReencodedMessagesKeepTheirBlocksAndMembers) {
  auto body = anthropic::encode_messages_body(messages_surface_request(), false);
  ASSERT_TRUE(body) << body.error().message;
  json j = json::parse(*body);
  EXPECT_EQ(j["top_k"], 5);
  EXPECT_EQ(j["thinking"]["budget_tokens"], 1024);
  const json& assistant = j["messages"][1]["content"];
  ASSERT_EQ(assistant.size(), 3u);
  EXPECT_EQ(assistant[0], json::parse(kThinking)) << "first, verbatim";
  EXPECT_EQ(assistant[2]["type"], "tool_use");
}

TEST(AnthropicNative, OtherPartsFromTheOpenAiSurfaceAreStillRefused) {
  ChatRequest r = messages_surface_request();
  r.surface = ApiSurface::chat_completions;
  EXPECT_FALSE(anthropic::encode_messages_body(r, false));
}

class CapsBackend : public Backend {
 public:
  explicit CapsBackend(Capabilities caps) : caps_(caps) {}
  const BackendInfo& info() const override { return info_; }
  Capabilities capabilities() const override { return caps_; }
  std::shared_ptr<ChatCall> chat(ChatRequest, bool, ChatHandlers) override { return nullptr; }

 private:
  BackendInfo info_;
  Capabilities caps_;
};

TEST(AnthropicNative, AdaptForStripsAnthropicOnlyPartsForOtherBackends) {
  ChatRequest r = messages_surface_request();
  r.native = std::make_shared<NativeRequest>(NativeRequest{.protocol = "anthropic", .body = "{}"});
  ChatRequest to_anthropic = adapt_for(r, CapsBackend({.native_protocol = "anthropic"}));
  EXPECT_EQ(to_anthropic.messages[1].content.size(), 2u);
  EXPECT_EQ(to_anthropic.extra.size(), 2u);
  EXPECT_TRUE(to_anthropic.native);
  ChatRequest to_openai = adapt_for(r, CapsBackend({}));
  ASSERT_EQ(to_openai.messages[1].content.size(), 1u);
  EXPECT_EQ(to_openai.messages[1].content[0].text, "Calling.");
  EXPECT_TRUE(to_openai.extra.empty());
  EXPECT_FALSE(to_openai.native);
}

}  // namespace
}  // namespace sy::backends
