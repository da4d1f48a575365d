// The OpenAI stream decoder against recorded-shape SSE fixtures, each fed whole and in
// 1-byte and 7-byte pieces: the folded result must not depend on how bytes arrive.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/translator_test_support.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {
namespace {

using nlohmann::json;

struct Decoded {
  std::vector<ChatChunk> chunks;
  std::optional<Error> error;
  std::string stage;  // "feed" or "finish" when error is set
};

Decoded decode(std::string_view text, size_t piece) {
  auto decoder = make_openai_translator()->make_stream_decoder();
  Decoded out;
  for (size_t i = 0; i < text.size(); i += piece) {
    if (auto s = decoder->feed(text.substr(i, piece), out.chunks); !s) {
      out.error = s.error();
      out.stage = "feed";
      return out;
    }
  }
  if (auto s = decoder->finish(out.chunks); !s) {
    out.error = s.error();
    out.stage = "finish";
  }
  return out;
}

void expect_response(const ChatResponse& got, const json& want, const std::string& where) {
  EXPECT_EQ(got.model, want.value("model", "")) << where;
  ASSERT_EQ(got.choices.size(), want["choices"].size()) << where;
  for (size_t i = 0; i < got.choices.size(); ++i) {
    const Choice& c = got.choices[i];
    const json& w = want["choices"][i];
    EXPECT_EQ(c.index, w["index"].get<int>()) << where;
    EXPECT_EQ(c.message.text(), w["content"].get<std::string>()) << where;
    EXPECT_EQ(to_string(c.finish_reason), w["finish_reason"].get<std::string>()) << where;
    const json calls = w.value("tool_calls", json::array());
    ASSERT_EQ(c.message.tool_calls.size(), calls.size()) << where;
    for (size_t k = 0; k < calls.size(); ++k) {
      EXPECT_EQ(c.message.tool_calls[k].id, calls[k]["id"]) << where;
      EXPECT_EQ(c.message.tool_calls[k].name, calls[k]["name"]) << where;
      EXPECT_EQ(c.message.tool_calls[k].arguments, calls[k]["arguments"]) << where;
    }
  }
}

class OpenAiStreamFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(OpenAiStreamFixture, FoldsToExpectedResultWhateverTheSplit) {
  const std::string name = GetParam();
  const std::string text = testing::read_fixture("openai/streams/" + name + ".sse");
  const json want = testing::read_json_fixture("openai/streams/" + name + ".expected.json");
  ASSERT_FALSE(text.empty());
  for (size_t piece : {size_t{1}, size_t{7}, text.size()}) {
    const std::string where = name + " in pieces of " + std::to_string(piece);
    Decoded got = decode(text, piece);
    ChatAccumulator acc;
    for (const auto& chunk : got.chunks) acc.add(chunk);

    if (want.contains("error")) {
      ASSERT_TRUE(got.error.has_value()) << where;
      EXPECT_EQ(got.stage, want["error"]["stage"]) << where;
      EXPECT_EQ(to_string(got.error->kind), want["error"]["kind"].get<std::string>()) << where;
      EXPECT_NE(got.error->message.find(want["error"]["message_contains"].get<std::string>()),
                std::string::npos)
          << where << ": " << got.error->message;
      ChatResponse partial = std::move(acc).finish();
      ASSERT_EQ(partial.choices.size(), 1u) << where;
      EXPECT_EQ(partial.choices[0].message.text(), want["partial_content"]) << where;
      continue;
    }
    ASSERT_FALSE(got.error.has_value()) << where << ": " << got.error->message;
    const json& u = want["usage"];
    ASSERT_TRUE(acc.saw_usage()) << where;
    EXPECT_EQ(acc.usage(), (Usage{.prompt_tokens = u["prompt_tokens"],
                                  .completion_tokens = u["completion_tokens"],
                                  .cached_tokens = u["cached_tokens"],
                                  .reasoning_tokens = u["reasoning_tokens"]}))
        << where;
    expect_response(std::move(acc).finish(), want["response"], where);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OpenAiStreamFixture,
                         ::testing::Values("text_stream", "tool_calls_stream",
                                           "content_filter_stream", "two_choices_stream",
                                           "completion_stream", "error_midstream",
                                           "rate_limit_midstream", "missing_done",
                                           "malformed_chunk", "cut_mid_event"),
                         [](const auto& info) { return info.param; });

TEST(OpenAiStreamDecoder, EmitsRoleFirstAndUsageInItsOwnChunk) {
  Decoded got = decode(testing::read_fixture("openai/streams/text_stream.sse"), 1 << 20);
  ASSERT_FALSE(got.error.has_value());
  ASSERT_GE(got.chunks.size(), 3u);
  EXPECT_EQ(got.chunks.front().role, Role::assistant);
  EXPECT_FALSE(got.chunks.front().has_content());
  const ChatChunk& last = got.chunks.back();
  ASSERT_TRUE(last.usage.has_value());
  EXPECT_FALSE(last.has_content());
  EXPECT_EQ(last.finish_reason, FinishReason::none);
}

TEST(OpenAiStreamDecoder, IgnoresBytesAfterDone) {
  auto decoder = make_openai_translator()->make_stream_decoder();
  std::vector<ChatChunk> chunks;
  ASSERT_TRUE(decoder->feed("data: [DONE]\n\ndata: {not json\n\n", chunks));
  EXPECT_TRUE(decoder->finish(chunks));
  EXPECT_TRUE(chunks.empty());
}

TEST(OpenAiStreamDecoder, AcceptsDoneWithoutTrailingBlankLine) {
  auto decoder = make_openai_translator()->make_stream_decoder();
  std::vector<ChatChunk> chunks;
  ASSERT_TRUE(decoder->feed("data: [DONE]", chunks));
  EXPECT_TRUE(decoder->finish(chunks));
}

TEST(OpenAiStreamDecoder, StaysFailedAfterAnError) {
  auto decoder = make_openai_translator()->make_stream_decoder();
  std::vector<ChatChunk> chunks;
  EXPECT_FALSE(decoder->feed("data: [1,2\n\n", chunks));
  auto again = decoder->feed("data: [DONE]\n\n", chunks);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::upstream_error);
  EXPECT_FALSE(decoder->finish(chunks));
}

TEST(OpenAiStreamDecoder, RejectsEmptyBody) {
  auto decoder = make_openai_translator()->make_stream_decoder();
  std::vector<ChatChunk> chunks;
  auto s = decoder->finish(chunks);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::upstream_error);
  EXPECT_EQ(s.error().message, "stream ended without [DONE]");
}

}  // namespace
}  // namespace sy::backends
