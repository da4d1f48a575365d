#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backends/translator_test_support.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {
namespace {

using nlohmann::json;

// Every streams/<name>.sse is decoded in 1-byte, 7-byte and whole-body pieces; the result
// must equal streams/<name>.expected.json whatever the split.
TEST(GeminiStreamDecoder, DecodesFixtureStreamsWhateverTheSplit) {
  auto translator = make_gemini_translator();
  auto names = testing::fixture_names("gemini/streams", ".sse");
  ASSERT_GE(names.size(), 5u);
  for (const auto& name : names) {
    std::string body = testing::read_fixture("gemini/streams/" + name + ".sse");
    json expected = testing::read_json_fixture("gemini/streams/" + name + ".expected.json");
    for (size_t piece : {size_t{1}, size_t{7}, body.size()}) {
      SCOPED_TRACE(name + " in pieces of " + std::to_string(piece));
      auto run = testing::run_stream(*translator, body, piece);
      EXPECT_EQ(testing::stream_json(run), expected);
      testing::expect_well_formed(run.chunks);
    }
  }
}

TEST(GeminiStreamDecoder, SendsEachFunctionCallWholeWithIdAndName) {
  auto translator = make_gemini_translator();
  std::string body = testing::read_fixture("gemini/streams/function_call.sse");
  auto run = testing::run_stream(*translator, body, 7);
  ASSERT_FALSE(run.error.has_value());
  std::vector<ToolCallDelta> deltas;
  for (const auto& chunk : run.chunks) {
    deltas.insert(deltas.end(), chunk.tool_calls.begin(), chunk.tool_calls.end());
  }
  ASSERT_EQ(deltas.size(), 2u);
  EXPECT_EQ(deltas[0].index, 0);
  EXPECT_EQ(deltas[0].id, "call_0_0");
  EXPECT_EQ(deltas[0].name, "get_weather");
  EXPECT_EQ(deltas[1].index, 1);
  EXPECT_EQ(deltas[1].id, "fc_given");
  ASSERT_TRUE(run.chunks.back().usage.has_value());
  EXPECT_EQ(run.chunks.back().usage->prompt_tokens, 50);
}

TEST(GeminiStreamDecoder, WaitsForEveryCandidateToFinish) {
  auto decoder = make_gemini_translator()->make_stream_decoder();
  std::vector<ChatChunk> out;
  ASSERT_TRUE(decoder->feed(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"index\":0},"
      "{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"index\":1,\"finishReason\":\"STOP\"}]}\n\n",
      out));
  auto status = decoder->finish(out);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().kind, ErrorKind::upstream_error);
}

TEST(GeminiStreamDecoder, RejectsGarbageAndEmptyStreams) {
  auto translator = make_gemini_translator();
  auto run = testing::run_stream(*translator, "data: {oops\n\n", 100);
  ASSERT_TRUE(run.error.has_value());
  EXPECT_EQ(run.error->kind, ErrorKind::upstream_error);
  EXPECT_EQ(run.error_at, "feed");

  run = testing::run_stream(*translator, "", 1);
  ASSERT_TRUE(run.error.has_value());
  EXPECT_EQ(run.error_at, "finish");
}

TEST(GeminiStreamDecoder, NeverReportsACutStreamAsComplete) {
  auto translator = make_gemini_translator();
  for (const auto& name : testing::fixture_names("gemini/streams", ".sse")) {
    json expected = testing::read_json_fixture("gemini/streams/" + name + ".expected.json");
    if (!expected["error"].is_null()) continue;
    SCOPED_TRACE(name);
    testing::expect_no_truncated_success(
        *translator, testing::read_fixture("gemini/streams/" + name + ".sse"), expected);
  }
}

}  // namespace
}  // namespace sy::backends
