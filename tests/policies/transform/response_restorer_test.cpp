// ResponseRestorer: streamed chunks (content, tool-call arguments), native Anthropic events and
// buffered responses get the values back, whatever the split.

#include "switchyard/policies/transform/response_restorer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "switchyard/backends/openai_json.h"
#include "switchyard/backends/sse.h"

namespace sy::policies {
namespace {

using backends::ChatChunk;
using backends::FinishReason;
using backends::ToolCallDelta;
using nlohmann::json;

constexpr char kEmail[] = "jane.doe@example.com";

MaskPlanPtr email_plan() {
  static MaskPlanPtr plan = [] {
    auto classifier = SensitivityClassifier::create(SensitivityConfig{});
    if (!classifier) throw std::runtime_error(classifier.error().message);
    auto request = backends::openai::parse_chat_request(
        json{{"model", "m"},
             {"messages", {{{"role", "user"}, {"content", std::string("mail ") + kEmail}}}}}
            .dump());
    return MaskPlan::build(*request, **classifier, MaskSelection{.up_to_confidential = true});
  }();
  return plan;
}

// Runs chunks through a restorer and folds what comes out: text, and arguments per call.
struct Folded {
  std::string text;
  std::map<int, std::string> arguments;
  size_t chunks_out = 0;
};

Folded run(const std::vector<ChatChunk>& chunks) {
  ResponseRestorer restorer(email_plan());
  Folded out;
  auto take = [&](const ChatChunk& c) {
    ++out.chunks_out;
    out.text += c.content;
    for (const ToolCallDelta& d : c.tool_calls) out.arguments[d.index] += d.arguments;
  };
  for (ChatChunk chunk : chunks) {
    if (restorer.restore(chunk)) take(chunk);
  }
  for (const ChatChunk& c : restorer.flush()) take(c);
  return out;
}

TEST(ResponseRestorer, ContentSplitAcrossChunksAtEveryOffset) {
  const std::string text = "Write to [EMAIL_1] today.";
  for (size_t i = 0; i <= text.size(); ++i) {
    std::vector<ChatChunk> chunks = {
        ChatChunk{.role = backends::Role::assistant},
        ChatChunk{.content = text.substr(0, i)},
        ChatChunk{.content = text.substr(i)},
        ChatChunk{.finish_reason = FinishReason::stop}};
    EXPECT_EQ(run(chunks).text, std::string("Write to ") + kEmail + " today.") << "split at " << i;
  }
}

TEST(ResponseRestorer, HeldTextGoesOutBeforeToolCallsAndAtFinish) {
  ResponseRestorer restorer(email_plan());
  ChatChunk a{.content = "see [EMAIL"};
  ASSERT_TRUE(restorer.restore(a));
  EXPECT_EQ(a.content, "see ");
  ChatChunk b{.content = "_"};
  EXPECT_FALSE(restorer.restore(b));  // all held back: nothing to send
  ChatChunk c;
  c.tool_calls.push_back(ToolCallDelta{.index = 0, .id = "call_1", .name = "send", .arguments = "{\"to\":\"[EM"});
  ASSERT_TRUE(restorer.restore(c));
  EXPECT_EQ(c.content, "[EMAIL_");  // not a placeholder after all: released before the call
  ASSERT_EQ(c.tool_calls.size(), 1u);
  EXPECT_EQ(c.tool_calls[0].arguments, "{\"to\":\"");
  ChatChunk d;
  d.tool_calls.push_back(ToolCallDelta{.index = 1, .id = "call_2", .name = "log", .arguments = "{}"});
  ASSERT_TRUE(restorer.restore(d));
  // The first call's held "[EM" is released, as its own fragment, before the second call.
  ASSERT_EQ(d.tool_calls.size(), 2u);
  EXPECT_EQ(d.tool_calls[0].index, 0);
  EXPECT_EQ(d.tool_calls[0].arguments, "[EM");
  EXPECT_EQ(d.tool_calls[1].index, 1);
}

TEST(ResponseRestorer, ToolArgumentsSplitAtEveryOffsetStayValidJson) {
  const std::string arguments = R"({"to":"[EMAIL_1]","cc":["[EMAIL_1]"]})";
  for (size_t i = 0; i <= arguments.size(); ++i) {
    ChatChunk first, second, done{.finish_reason = FinishReason::tool_calls};
    first.tool_calls.push_back(
        ToolCallDelta{.index = 0, .id = "c", .name = "send", .arguments = arguments.substr(0, i)});
    second.tool_calls.push_back(ToolCallDelta{.index = 0, .arguments = arguments.substr(i)});
    Folded out = run({first, second, done});
    json parsed = json::parse(out.arguments[0]);
    ASSERT_EQ(parsed["to"], kEmail) << "split at " << i;
    ASSERT_EQ(parsed["cc"][0], kEmail) << "split at " << i;
  }
}

TEST(ResponseRestorer, FlushReleasesWhatAStreamLeftOpen) {
  ResponseRestorer restorer(email_plan());
  ChatChunk a{.content = "end [EMAIL_1"};
  ASSERT_TRUE(restorer.restore(a));
  auto tail = restorer.flush();
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].content, "[EMAIL_1");
  EXPECT_TRUE(restorer.flush().empty());
}

TEST(ResponseRestorer, BufferedResponse) {
  backends::ChatResponse response;
  backends::Choice choice;
  choice.message.role = backends::Role::assistant;
  choice.message.content.push_back(
      backends::ContentPart{.kind = backends::ContentPart::Kind::text, .text = "Hi [EMAIL_1]"});
  choice.message.tool_calls.push_back(
      backends::ToolCall{.id = "c", .name = "send", .arguments = R"({"to":"[EMAIL_1]"})"});
  response.choices.push_back(choice);
  response.native_body = json{{"content",
                               {{{"type", "text"}, {"text", "Hi [EMAIL_1]"}},
                                {{"type", "thinking"}, {"thinking", "user [EMAIL_1]"}},
                                {{"type", "tool_use"}, {"input", {{"to", "[EMAIL_1]"}}}}}}}
                             .dump();
  ResponseRestorer(email_plan()).restore(response);
  EXPECT_EQ(response.choices[0].message.text(), std::string("Hi ") + kEmail);
  EXPECT_EQ(json::parse(response.choices[0].message.tool_calls[0].arguments)["to"], kEmail);
  json native = json::parse(response.native_body);
  EXPECT_EQ(native["content"][0]["text"], std::string("Hi ") + kEmail);
  // Thinking stays as the vendor signed it.
  EXPECT_EQ(native["content"][1]["thinking"], "user [EMAIL_1]");
  EXPECT_EQ(native["content"][2]["input"]["to"], kEmail);
}

std::string event(const json& data) { return backends::format_sse(data.dump(), data["type"].get<std::string>()); }

json text_delta(int index, const std::string& text) {
  return {{"type", "content_block_delta"},
          {"index", index},
          {"delta", {{"type", "text_delta"}, {"text", text}}}};
}

TEST(ResponseRestorer, NativeAnthropicEventsSplitAtEveryOffset) {
  const std::string text = "Mail [EMAIL_1] now";
  const std::string args = R"({"to":"[EMAIL_1]"})";
  for (size_t i = 0; i <= text.size(); ++i) {
    const size_t k = std::min(i, args.size());
    ResponseRestorer restorer(email_plan());
    std::vector<std::string> chunks = {
        event({{"type", "message_start"}, {"message", {{"id", "m"}}}}) +
            event({{"type", "content_block_start"},
                   {"index", 0},
                   {"content_block", {{"type", "text"}, {"text", ""}}}}),
        event(text_delta(0, text.substr(0, i))),
        event(text_delta(0, text.substr(i))) +
            event({{"type", "content_block_stop"}, {"index", 0}}),
        event({{"type", "content_block_start"},
               {"index", 1},
               {"content_block", {{"type", "tool_use"}, {"id", "t"}, {"name", "send"}}}}) +
            event({{"type", "content_block_delta"},
                   {"index", 1},
                   {"delta", {{"type", "input_json_delta"}, {"partial_json", args.substr(0, k)}}}}),
        event({{"type", "content_block_delta"},
               {"index", 1},
               {"delta", {{"type", "input_json_delta"}, {"partial_json", args.substr(k)}}}}) +
            event({{"type", "content_block_stop"}, {"index", 1}}) +
            event({{"type", "message_stop"}})};
    std::string wire;
    for (const std::string& bytes : chunks) {
      ChatChunk chunk{.native = bytes};
      if (restorer.restore(chunk)) wire += chunk.native;
    }
    // Replay the events the client would read.
    backends::SseParser parser;
    std::vector<backends::SseEvent> events;
    ASSERT_TRUE(parser.feed(wire, events));
    std::string got_text, got_args;
    bool stopped = false;
    for (const auto& e : events) {
      json data = json::parse(e.data);
      EXPECT_EQ(e.event, data["type"]);
      if (data["type"] == "content_block_delta") {
        EXPECT_FALSE(stopped) << "a delta after its block stopped";
        if (data["index"] == 0) got_text += data["delta"]["text"].get<std::string>();
        if (data["index"] == 1) got_args += data["delta"]["partial_json"].get<std::string>();
      }
      if (data["type"] == "content_block_stop") stopped = data["index"] == 1;
    }
    EXPECT_EQ(got_text, std::string("Mail ") + kEmail + " now") << "split at " << i;
    EXPECT_EQ(json::parse(got_args)["to"], kEmail) << "split at " << i;
  }
}

}  // namespace
}  // namespace sy::policies
