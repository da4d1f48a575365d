// The OpenAI translator: URL, headers, body, capabilities and error decoding.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "switchyard/backends/translators.h"

namespace sy::backends {
namespace {

using nlohmann::json;

ChatRequest hello(std::string model = "gpt-4o-mini") {
  ChatRequest r;
  r.model = std::move(model);
  r.messages.push_back(Message{.role = Role::user, .content = {ContentPart{.text = "Hi"}}});
  return r;
}

TEST(OpenAiTranslator, EncodesChatRequestWithBearerKeyAndConfiguredHeaders) {
  auto t = make_openai_translator();
  Endpoint endpoint{.base_url = "https://api.example.test/v1/",
                    .api_key = "sk-test",
                    .headers = {{"openai-organization", "org-1"}}};
  auto http = t->encode_request(hello(), endpoint, /*stream=*/true);
  ASSERT_TRUE(http) << http.error().message;
  EXPECT_EQ(http->method, "POST");
  EXPECT_EQ(http->url, "https://api.example.test/v1/chat/completions");
  EXPECT_EQ(find_header(http->headers, "authorization"), "Bearer sk-test");
  EXPECT_EQ(find_header(http->headers, "content-type"), "application/json");
  EXPECT_EQ(find_header(http->headers, "openai-organization"), "org-1");
  EXPECT_EQ(json::parse(http->body), json::parse(R"({"model":"gpt-4o-mini",
      "messages":[{"role":"user","content":"Hi"}],"stream":true,
      "stream_options":{"include_usage":true}})"));
}

TEST(OpenAiTranslator, SendsLegacyCompletionsToTheirOwnPath) {
  ChatRequest r;
  r.surface = ApiSurface::completions;
  r.model = "gpt-3.5-turbo-instruct";
  r.prompt = "Say hi";
  auto http = make_openai_translator()->encode_request(
      r, Endpoint{.base_url = "http://127.0.0.1:9/v1", .api_key = "k"}, false);
  ASSERT_TRUE(http);
  EXPECT_EQ(http->url, "http://127.0.0.1:9/v1/completions");
  EXPECT_EQ(json::parse(http->body),
            json::parse(R"({"model":"gpt-3.5-turbo-instruct","prompt":"Say hi"})"));
}

TEST(OpenAiTranslator, OmitsAuthorizationWithoutKey) {
  auto http = make_openai_translator()->encode_request(
      hello(), Endpoint{.base_url = "http://127.0.0.1:9/v1"}, false);
  ASSERT_TRUE(http);
  EXPECT_FALSE(find_header(http->headers, "authorization").has_value());
}

TEST(OpenAiTranslator, ClaimsEveryCapability) {
  auto t = make_openai_translator();
  EXPECT_EQ(t->protocol(), "openai");
  EXPECT_TRUE(t->capabilities().multiple_choices);
  EXPECT_TRUE(t->capabilities().completions_api);
  EXPECT_TRUE(t->capabilities().passthrough_fields);
}

TEST(OpenAiTranslator, DecodesErrorWithRetryAfter) {
  Error e = make_openai_translator()->decode_error(
      429, Headers{{"retry-after-ms", "1500"}},
      R"({"error":{"message":"Rate limit reached","type":"requests","param":null,
          "code":"rate_limit_exceeded"}})");
  EXPECT_EQ(e.kind, ErrorKind::rate_limited);
  EXPECT_EQ(e.retry_after, std::chrono::milliseconds(1500));
  EXPECT_EQ(e.upstream_status, 429);
  EXPECT_EQ(e.backend, "openai");
}

TEST(OpenAiTranslator, DecodesResponseAndRejectsGarbage) {
  auto t = make_openai_translator();
  auto ok = t->decode_response(R"({"id":"x","object":"chat.completion","created":1,"model":"m",
      "choices":[{"index":0,"message":{"role":"assistant","content":"yo"},"finish_reason":"stop"}],
      "usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->choices[0].message.text(), "yo");
  auto bad = t->decode_response("<html>oops</html>");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::upstream_error);
}

}  // namespace
}  // namespace sy::backends
