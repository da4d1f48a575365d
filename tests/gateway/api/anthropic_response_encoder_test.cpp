// ChatChunks -> Anthropic's exact SSE event sequence, checked against fixtures
// (tests/fixtures/anthropic_surface/streams/NAME.chunks.json -> NAME.sse, byte for byte), and
// ChatResponse -> the `message` object.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "api/anthropic_response_encoder.h"
#include "switchyard/backends/sse.h"

namespace sy::gateway {
namespace {

using backends::FinishReason;
using nlohmann::json;

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

FinishReason finish_from(const std::string& s) {
  if (s == "length") return FinishReason::length;
  if (s == "tool_calls") return FinishReason::tool_calls;
  if (s == "content_filter") return FinishReason::content_filter;
  if (s == "stop") return FinishReason::stop;
  return FinishReason::none;
}

backends::ChatChunk chunk_from(const json& j) {
  backends::ChatChunk c;
  if (j.contains("role")) c.role = backends::Role::assistant;
  c.content = j.value("content", "");
  for (const json& t : j.value("tool_calls", json::array())) {
    c.tool_calls.push_back({.index = t.value("index", 0),
                            .id = t.value("id", ""),
                            .name = t.value("name", ""),
                            .arguments = t.value("arguments", "")});
  }
  c.finish_reason = finish_from(j.value("finish", ""));
  return c;
}

backends::Usage usage_from(const json& j) {
  return {.prompt_tokens = j.value("prompt_tokens", 0),
          .completion_tokens = j.value("completion_tokens", 0),
          .cached_tokens = j.value("cached_tokens", 0),
          .cache_write_tokens = j.value("cache_write_tokens", 0)};
}

TEST(AnthropicStreamEncoder, MatchesTheFixtures) {
  auto dir = std::filesystem::path(SWITCHYARD_FIXTURES_DIR) / "anthropic_surface" / "streams";
  int cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (!name.ends_with(".chunks.json")) continue;
    std::string stem = name.substr(0, name.size() - std::string(".chunks.json").size());
    json input = json::parse(read(entry.path()));
    AnthropicStreamEncoder encoder({.id = input["id"], .model = input["model"]});
    std::string out = encoder.start();
    for (const json& c : input["chunks"]) out += encoder.add(chunk_from(c));
    out += encoder.finish(finish_from(input["finish"]), usage_from(input["usage"]));
    EXPECT_EQ(out, read(dir / (stem + ".sse"))) << stem;
    ++cases;
  }
  EXPECT_GE(cases, 5);
}

// Whatever the chunks, the event order is Anthropic's: one message_start first, blocks opened
// and closed in index order without overlap, message_delta then message_stop last.
TEST(AnthropicStreamEncoder, KeepsTheEventGrammarForInterleavedInput) {
  AnthropicStreamEncoder encoder({.id = "msg_x", .model = "m"});
  std::string out = encoder.start();
  out += encoder.add({.content = "a"});
  out += encoder.add({.tool_calls = {{.index = 0, .id = "c0", .name = "f", .arguments = "{"}}});
  out += encoder.add({.content = "b"});
  out += encoder.add({.tool_calls = {{.index = 1, .id = "c1", .name = "g", .arguments = "{}"}}});
  out += encoder.finish(FinishReason::tool_calls, {});
  backends::SseParser parser;
  std::vector<backends::SseEvent> events;
  ASSERT_TRUE(parser.feed(out, events));
  std::vector<std::string> names;
  int open = -1, next = 0;
  for (const auto& e : events) {
    names.push_back(e.event);
    json data = json::parse(e.data);
    EXPECT_EQ(data["type"], e.event);
    if (e.event == "content_block_start") {
      EXPECT_EQ(open, -1);
      EXPECT_EQ(data["index"], next);
      open = next++;
    } else if (e.event == "content_block_stop") {
      EXPECT_EQ(data["index"], open);
      open = -1;
    }
  }
  EXPECT_EQ(open, -1);
  EXPECT_EQ(next, 4) << "text, tool, text, tool";
  EXPECT_EQ(names.front(), "message_start");
  EXPECT_EQ(names[names.size() - 2], "message_delta");
  EXPECT_EQ(names.back(), "message_stop");
}

TEST(AnthropicStreamEncoder, ErrorEventCarriesTheErrorObject) {
  std::string e = AnthropicStreamEncoder::error(
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  EXPECT_EQ(e,
            "event: error\n"
            "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
            "\"Overloaded\"}}\n\n");
}

TEST(AnthropicMessageEncoder, EncodesTextToolUseStopReasonAndUsage) {
  backends::ChatResponse response;
  backends::Choice choice;
  choice.message.content.push_back({.text = "Checking."});
  choice.message.tool_calls.push_back({.id = "call_9", .name = "weather", .arguments = R"({"city":"Oslo"})"});
  choice.message.tool_calls.push_back({.id = "", .name = "broken", .arguments = "not json"});
  choice.finish_reason = FinishReason::tool_calls;
  response.choices.push_back(choice);
  response.usage = {.prompt_tokens = 50, .completion_tokens = 8, .cached_tokens = 20};
  json m = json::parse(encode_anthropic_message(response, {.id = "msg_7", .model = "gpt-4o"},
                                                R"({"cost_usd":"0.000001"})"));
  EXPECT_EQ(m["id"], "msg_7");
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["role"], "assistant");
  EXPECT_EQ(m["model"], "gpt-4o");
  ASSERT_EQ(m["content"].size(), 3u);
  EXPECT_EQ(m["content"][0], (json{{"type", "text"}, {"text", "Checking."}}));
  EXPECT_EQ(m["content"][1],
            (json{{"type", "tool_use"}, {"id", "call_9"}, {"name", "weather"},
                  {"input", {{"city", "Oslo"}}}}));
  EXPECT_EQ(m["content"][2]["id"], "toolu_msg_7_1");
  EXPECT_EQ(m["content"][2]["input"], json::object());
  EXPECT_EQ(m["stop_reason"], "tool_use");
  EXPECT_TRUE(m["stop_sequence"].is_null());
  EXPECT_EQ(m["usage"], (json{{"input_tokens", 30},
                              {"cache_creation_input_tokens", 0},
                              {"cache_read_input_tokens", 20},
                              {"output_tokens", 8}}));
  EXPECT_EQ(m["x_switchyard"]["cost_usd"], "0.000001");
  for (auto [reason, text] : {std::pair{FinishReason::stop, "end_turn"},
                              {FinishReason::length, "max_tokens"},
                              {FinishReason::content_filter, "refusal"}}) {
    EXPECT_EQ(anthropic_stop_reason(reason), text);
  }
}

}  // namespace
}  // namespace sy::gateway
