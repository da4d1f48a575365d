// Token log-probabilities in what clients receive: OpenAI's choices[].logprobs object.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "switchyard/backends/openai_json.h"

namespace sy::backends::openai {
namespace {

using nlohmann::json;

const ResponseIdentity kWho{.id = "chatcmpl-1", .model = "m", .created = 1};

TEST(OpenAILogprobs, ChunkCarriesContentEntriesWithBytesAndAlternatives) {
  ChatChunk chunk{.content = "Hi"};
  chunk.logprobs.push_back(
      TokenLogprob{.token = "Hi", .logprob = -0.5, .top = {{"Hi", -0.5}, {"Ho", -1.25}}});
  json out = json::parse(encode_chunk(chunk, kWho));
  const json& lp = out["choices"][0]["logprobs"];
  ASSERT_TRUE(lp.is_object());
  EXPECT_TRUE(lp["refusal"].is_null());
  ASSERT_EQ(lp["content"].size(), 1u);
  EXPECT_EQ(lp["content"][0]["token"], "Hi");
  EXPECT_EQ(lp["content"][0]["logprob"], -0.5);
  EXPECT_EQ(lp["content"][0]["bytes"], json::array({72, 105}));
  ASSERT_EQ(lp["content"][0]["top_logprobs"].size(), 2u);
  EXPECT_EQ(lp["content"][0]["top_logprobs"][1]["token"], "Ho");
  EXPECT_EQ(lp["content"][0]["top_logprobs"][1]["logprob"], -1.25);
}

TEST(OpenAILogprobs, NullWhenNotAsked) {
  json out = json::parse(encode_chunk(ChatChunk{.content = "Hi"}, kWho));
  EXPECT_TRUE(out["choices"][0]["logprobs"].is_null());
}

TEST(OpenAILogprobs, AccumulatedIntoTheResponseInOrder) {
  ChatAccumulator acc;
  ChatChunk a{.content = "a"};
  a.logprobs.push_back(TokenLogprob{.token = "a", .logprob = -1});
  ChatChunk b{.content = "b"};
  b.logprobs.push_back(TokenLogprob{.token = "b", .logprob = -2});
  acc.add(a);
  acc.add(b);
  ChatResponse response = std::move(acc).finish();
  json out = json::parse(encode_chat_response(response, kWho));
  const json& content = out["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0]["token"], "a");
  EXPECT_EQ(content[1]["logprob"], -2.0);
}

}  // namespace
}  // namespace sy::backends::openai
