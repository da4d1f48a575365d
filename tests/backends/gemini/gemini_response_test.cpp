#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backends/translator_test_support.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {
namespace {

using nlohmann::json;

TEST(GeminiTranslator, DecodesResponsesFromFixtures) {
  json cases = testing::read_json_fixture("gemini/responses.json");
  ASSERT_FALSE(cases.empty());
  auto translator = make_gemini_translator();
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto response = translator->decode_response(c["body"].dump());
    ASSERT_TRUE(response.has_value()) << response.error().message;
    EXPECT_EQ(testing::response_json(*response), c["expected"]);
    EXPECT_EQ(response->id, c["body"].value("responseId", ""));
  }
}

TEST(GeminiTranslator, RejectsMalformedResponses) {
  auto translator = make_gemini_translator();
  for (std::string_view body : {"", "not json", "[]", R"({"type":"message"})",
                                R"({"content":"text"})", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}) {
    auto response = translator->decode_response(body);
    ASSERT_FALSE(response.has_value()) << body;
    EXPECT_EQ(response.error().kind, ErrorKind::upstream_error) << body;
  }
  std::string deep(100000, '[');
  auto response = translator->decode_response(deep);
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().kind, ErrorKind::upstream_error);
}

TEST(GeminiTranslator, MapsErrorBodiesFromFixtures) {
  json cases = testing::read_json_fixture("gemini/errors.json");
  ASSERT_FALSE(cases.empty());
  auto translator = make_gemini_translator();
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    Headers headers;
    json header_cases = c.value("headers", json::object());
    for (const auto& [name, value] : header_cases.items()) {
      headers.emplace_back(name, value.get<std::string>());
    }
    std::string body = c.contains("body") ? c["body"].dump() : c["body_text"].get<std::string>();
    int status = c["status"];
    Error error = translator->decode_error(status, headers, body);
    EXPECT_EQ(to_string(error.kind), c["kind"].get<std::string>());
    EXPECT_EQ(error.upstream_status, status);
    EXPECT_EQ(error.retryable(), c.value("retryable", false));
    EXPECT_FALSE(error.message.empty());
    if (c.contains("message")) {
      EXPECT_EQ(error.message, c["message"].get<std::string>());
    }
    if (c.contains("code")) {
      EXPECT_EQ(error.code, c["code"].get<std::string>());
    }
    if (c.contains("retry_after_ms")) {
      ASSERT_TRUE(error.retry_after.has_value());
      EXPECT_EQ(error.retry_after->count(), c["retry_after_ms"].get<int64_t>());
    }
  }
}

TEST(GeminiTranslator, TurnsABlockedPromptIntoAContentFilterError) {
  auto response = make_gemini_translator()->decode_response(
      R"({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},)"
      R"("usageMetadata":{"promptTokenCount":5}})");
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().kind, ErrorKind::content_filter);
  EXPECT_FALSE(response.error().fallback_allowed());
}

}  // namespace
}  // namespace sy::backends
