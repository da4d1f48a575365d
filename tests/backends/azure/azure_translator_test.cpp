// The Azure OpenAI translator: deployment URL, api-version, api-key header, no `model` member.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "switchyard/backends/translators.h"

namespace sy::backends {
namespace {

using nlohmann::json;

ChatRequest hello(std::string deployment) {
  ChatRequest r;
  r.model = std::move(deployment);
  r.messages.push_back(Message{.role = Role::user, .content = {ContentPart{.text = "Hi"}}});
  r.extra.push_back(JsonField{"model", "\"smuggled\""});  // passthrough must not re-add it
  return r;
}

TEST(AzureTranslator, PutsDeploymentAndApiVersionInUrl) {
  auto http = make_azure_translator()->encode_request(
      hello("gpt4o-prod"),
      Endpoint{.base_url = "https://contoso.openai.azure.com",
               .api_key = "azkey",
               .api_version = "2024-06-01"},
      true);
  ASSERT_TRUE(http) << http.error().message;
  EXPECT_EQ(http->url,
            "https://contoso.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions"
            "?api-version=2024-06-01");
  EXPECT_EQ(find_header(http->headers, "api-key"), "azkey");
  EXPECT_FALSE(find_header(http->headers, "authorization").has_value());
  EXPECT_EQ(json::parse(http->body), json::parse(R"({"messages":[{"role":"user","content":"Hi"}],
      "stream":true,"stream_options":{"include_usage":true}})"));
}

TEST(AzureTranslator, UsesDefaultApiVersionAndEscapesDeployment) {
  auto http = make_azure_translator()->encode_request(
      hello("a/../b?x=1"), Endpoint{.base_url = "http://127.0.0.1:9/"}, false);
  ASSERT_TRUE(http);
  EXPECT_EQ(http->url,
            "http://127.0.0.1:9/openai/deployments/a%2F..%2Fb%3Fx%3D1/chat/completions"
            "?api-version=2024-10-21");
}

TEST(AzureTranslator, SendsLegacyCompletionsToDeploymentCompletions) {
  ChatRequest r;
  r.surface = ApiSurface::completions;
  r.model = "instruct";
  r.prompt = "p";
  auto http = make_azure_translator()->encode_request(
      r, Endpoint{.base_url = "http://127.0.0.1:9", .api_version = "v1"}, false);
  ASSERT_TRUE(http);
  EXPECT_EQ(http->url, "http://127.0.0.1:9/openai/deployments/instruct/completions?api-version=v1");
  EXPECT_FALSE(json::parse(http->body).contains("model"));
}

TEST(AzureTranslator, MapsContentFilterErrorWithInnerError) {
  Error e = make_azure_translator()->decode_error(400, {}, R"({"error":{
      "message":"The response was filtered due to the prompt triggering Azure OpenAI's policy.",
      "type":null,"param":"prompt","code":"content_filter","status":400,
      "innererror":{"code":"ResponsibleAIPolicyViolation",
        "content_filter_result":{"violence":{"filtered":true,"severity":"medium"}}}}})");
  EXPECT_EQ(e.kind, ErrorKind::content_filter);
  EXPECT_EQ(e.code, "content_filter");
  EXPECT_EQ(e.backend, "azure");
  EXPECT_FALSE(e.fallback_allowed());
}

TEST(AzureTranslator, DecodesStreamWithPromptFilterPreamble) {
  auto decoder = make_azure_translator()->make_stream_decoder();
  std::vector<ChatChunk> chunks;
  ASSERT_TRUE(decoder->feed(
      "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\","
      "\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n"
      "data: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}],"
      "\"model\":\"gpt-4o\"}\n\ndata: [DONE]\n\n",
      chunks));
  ASSERT_TRUE(decoder->finish(chunks));
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].content, "ok");
}

TEST(AzureTranslator, RejectsMissingDeployment) {
  auto http =
      make_azure_translator()->encode_request(hello(""), Endpoint{.base_url = "http://h"}, false);
  ASSERT_FALSE(http);
  EXPECT_EQ(http.error().kind, ErrorKind::invalid_request);
}

}  // namespace
}  // namespace sy::backends
