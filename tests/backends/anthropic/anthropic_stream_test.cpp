#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backends/translator_test_support.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {
namespace {

using nlohmann::json;

// Every streams/<name>.sse is decoded in 1-byte, 7-byte and whole-body pieces; the result
// must equal streams/<name>.expected.json whatever the split.
TEST(AnthropicStreamDecoder, DecodesFixtureStreamsWhateverTheSplit) {
  auto translator = make_anthropic_translator();
  auto names = testing::fixture_names("anthropic/streams", ".sse");
  ASSERT_GE(names.size(), 5u);
  for (const auto& name : names) {
    std::string body = testing::read_fixture("anthropic/streams/" + name + ".sse");
    json expected = testing::read_json_fixture("anthropic/streams/" + name + ".expected.json");
    for (size_t piece : {size_t{1}, size_t{7}, body.size()}) {
      SCOPED_TRACE(name + " in pieces of " + std::to_string(piece));
      auto run = testing::run_stream(*translator, body, piece);
      EXPECT_EQ(testing::stream_json(run), expected);
      testing::expect_well_formed(run.chunks);
    }
  }
}

TEST(AnthropicStreamDecoder, NumbersToolCallsInBlockOrderWithIdAndNameFirst) {
  auto translator = make_anthropic_translator();
  std::string body = testing::read_fixture("anthropic/streams/tool_use.sse");
  auto run = testing::run_stream(*translator, body, body.size());
  ASSERT_FALSE(run.error.has_value());
  std::vector<ToolCallDelta> deltas;
  for (const auto& chunk : run.chunks) {
    deltas.insert(deltas.end(), chunk.tool_calls.begin(), chunk.tool_calls.end());
  }
  ASSERT_EQ(deltas.size(), 6u);
  EXPECT_EQ(deltas[0].index, 0);
  EXPECT_EQ(deltas[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  EXPECT_EQ(deltas[0].name, "get_weather");
  EXPECT_EQ(deltas[1].arguments, "{\"location\": \"San Fra");
  EXPECT_TRUE(deltas[1].id.empty());
  EXPECT_EQ(deltas[4].index, 1);
  EXPECT_EQ(deltas[4].id, "toolu_02Abc");
  EXPECT_EQ(deltas[5].index, 1);
}

TEST(AnthropicStreamDecoder, ReportsUsageOnceAfterTheFinishChunk) {
  auto translator = make_anthropic_translator();
  std::string body = testing::read_fixture("anthropic/streams/cache_usage.sse");
  auto run = testing::run_stream(*translator, body, 7);
  ASSERT_FALSE(run.error.has_value());
  ASSERT_GE(run.chunks.size(), 2u);
  EXPECT_EQ(run.chunks[0].model, "claude-sonnet-4-5");
  EXPECT_EQ(run.chunks[run.chunks.size() - 2].finish_reason, FinishReason::length);
  ASSERT_TRUE(run.chunks.back().usage.has_value());
  EXPECT_EQ(run.chunks.back().usage->total(), 2009 + 64);
}

TEST(AnthropicStreamDecoder, StaysFailedAfterAnErrorEvent) {
  auto decoder = make_anthropic_translator()->make_stream_decoder();
  std::vector<ChatChunk> out;
  std::string error_event =
      "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
      "\"message\":\"slow down\"}}\n\n";
  auto status = decoder->feed(error_event, out);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().kind, ErrorKind::rate_limited);
  EXPECT_EQ(status.error().message, "slow down");
  EXPECT_FALSE(decoder->feed("event: ping\ndata: {\"type\":\"ping\"}\n\n", out).has_value());
  EXPECT_FALSE(decoder->finish(out).has_value());
}

TEST(AnthropicStreamDecoder, RejectsGarbageAndEmptyStreams) {
  auto translator = make_anthropic_translator();
  auto run = testing::run_stream(*translator, "data: {oops\n\n", 100);
  ASSERT_TRUE(run.error.has_value());
  EXPECT_EQ(run.error->kind, ErrorKind::upstream_error);
  EXPECT_EQ(run.error_at, "feed");

  run = testing::run_stream(*translator, "", 1);
  ASSERT_TRUE(run.error.has_value());
  EXPECT_EQ(run.error_at, "finish");

  run = testing::run_stream(
      *translator,
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
      100);
  ASSERT_TRUE(run.error.has_value());
  EXPECT_EQ(run.error->kind, ErrorKind::upstream_error);
}

TEST(AnthropicStreamDecoder, NeverReportsACutStreamAsComplete) {
  auto translator = make_anthropic_translator();
  for (const auto& name : testing::fixture_names("anthropic/streams", ".sse")) {
    json expected = testing::read_json_fixture("anthropic/streams/" + name + ".expected.json");
    if (!expected["error"].is_null()) continue;
    SCOPED_TRACE(name);
    testing::expect_no_truncated_success(
        *translator, testing::read_fixture("anthropic/streams/" + name + ".sse"), expected);
  }
}

}  // namespace
}  // namespace sy::backends
