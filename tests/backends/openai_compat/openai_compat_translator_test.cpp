// The OpenAI-compatible translator (vLLM, llama.cpp server, Ollama): same wire format,
// optional key, no claim of n > 1, vendor-specific error bodies.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "switchyard/backends/translators.h"

namespace sy::backends {
namespace {

using nlohmann::json;

TEST(OpenAiCompatTranslator, SendsOpenAiBodyWithoutKey) {
  ChatRequest r;
  r.model = "llama3.1:8b";
  r.messages.push_back(Message{.role = Role::user, .content = {ContentPart{.text = "Hi"}}});
  r.extra.push_back(JsonField{"top_k", "40"});  // vLLM/llama.cpp sampling extension
  auto http = make_openai_compat_translator()->encode_request(
      r, Endpoint{.base_url = "http://127.0.0.1:11434/v1"}, false);
  ASSERT_TRUE(http) << http.error().message;
  EXPECT_EQ(http->url, "http://127.0.0.1:11434/v1/chat/completions");
  EXPECT_FALSE(find_header(http->headers, "authorization").has_value());
  EXPECT_EQ(json::parse(http->body), json::parse(R"({"model":"llama3.1:8b",
      "messages":[{"role":"user","content":"Hi"}],"top_k":40})"));
}

TEST(OpenAiCompatTranslator, UsesBearerKeyWhenConfigured) {
  ChatRequest r;
  r.model = "m";
  r.messages.push_back(Message{.content = {ContentPart{.text = "x"}}});
  auto http = make_openai_compat_translator()->encode_request(
      r, Endpoint{.base_url = "http://127.0.0.1:8000/v1", .api_key = "vllm-token"}, false);
  ASSERT_TRUE(http);
  EXPECT_EQ(find_header(http->headers, "authorization"), "Bearer vllm-token");
}

TEST(OpenAiCompatTranslator, DeclaresCapabilities) {
  auto t = make_openai_compat_translator();
  EXPECT_EQ(t->protocol(), "openai_compat");
  EXPECT_FALSE(t->capabilities().multiple_choices);
  EXPECT_TRUE(t->capabilities().completions_api);
  EXPECT_TRUE(t->capabilities().passthrough_fields);
}

TEST(OpenAiCompatTranslator, MapsServerSpecificErrorBodies) {
  auto t = make_openai_compat_translator();
  Error ollama = t->decode_error(404, {}, R"({"error":"model \"llama9\" not found"})");
  EXPECT_EQ(ollama.kind, ErrorKind::not_found);
  EXPECT_EQ(ollama.backend, "openai_compat");
  Error vllm = t->decode_error(
      400, {},
      R"({"object":"error","message":"This model's maximum context length is 4096 tokens.",
          "type":"BadRequestError","param":null,"code":400})");
  EXPECT_EQ(vllm.kind, ErrorKind::context_length_exceeded);
  Error down = t->decode_error(503, {{"retry-after", "2"}}, "Service Unavailable");
  EXPECT_EQ(down.kind, ErrorKind::upstream_unavailable);
  EXPECT_EQ(down.retry_after, std::chrono::milliseconds(2000));
}

TEST(OpenAiCompatTranslator, RequiresDoneLikeOpenAi) {
  auto decoder = make_openai_compat_translator()->make_stream_decoder();
  std::vector<ChatChunk> chunks;
  ASSERT_TRUE(decoder->feed(
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}"
      "\n\n",
      chunks));
  ASSERT_EQ(chunks.size(), 1u);
  auto end = decoder->finish(chunks);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().message, "stream ended without [DONE]");
}

}  // namespace
}  // namespace sy::backends
