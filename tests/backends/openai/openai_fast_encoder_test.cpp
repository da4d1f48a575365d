// The encoders write common cases straight into a string; the DOM encoders are the reference.
// Each case here must come out byte for byte the same both ways, including strings that need
// escaping, invalid UTF-8 (replaced), doubles and every optional member.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "openai/json_support.h"
#include "switchyard/backends/openai_json.h"

namespace sy::backends {
namespace {

namespace oa = openai;

const oa::ResponseIdentity kWho{.id = "chatcmpl-\"q\"", .model = "m\xC3\xA9", .created = 17};

// Text that exercises escaping: quotes, backslash, every named escape, other controls, DEL,
// multi-byte UTF-8 and invalid UTF-8 (a lone continuation byte, a truncated sequence, an
// overlong form and a surrogate).
const std::vector<std::string> kTexts = {
    "",
    "plain",
    "quote \" backslash \\ slash /",
    "\b\f\n\r\t \x01\x1f\x7f",
    "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
    "lone \x80 byte",
    "cut \xE2\x82",
    "overlong \xC0\xAF",
    "surrogate \xED\xA0\x80",
    "max \xF4\x8F\xBF\xBF beyond \xF4\x90\x80\x80",
};

Message text_message(Role role, std::string text) {
  Message m;
  m.role = role;
  m.content.push_back(ContentPart{.text = std::move(text)});
  return m;
}

TEST(OpenAiFastEncoder, RequestBodiesMatchTheDomEncoder) {
  std::vector<ChatRequest> requests;
  for (const std::string& text : kTexts) {
    ChatRequest r;
    r.model = text.empty() ? "gpt" : text;
    r.messages.push_back(text_message(Role::system, text));
    r.messages.push_back(text_message(Role::user, "hi " + text));
    requests.push_back(r);
  }
  ChatRequest full;
  full.model = "gpt-4o";
  Message parts;
  parts.role = Role::user;
  parts.content_is_text = false;
  parts.content.push_back(ContentPart{.text = "look"});
  parts.content.push_back(ContentPart{
      .kind = ContentPart::Kind::image_url, .url = "https://x/y.png", .detail = "high"});
  parts.content.push_back(ContentPart{.kind = ContentPart::Kind::image_url, .url = "data:,"});
  parts.name = "ann";
  full.messages.push_back(parts);
  Message call;
  call.role = Role::assistant;
  call.content_is_null = true;
  call.content_is_text = false;
  call.tool_calls = {{.id = "c1", .name = "f", .arguments = "{\"a\":1}"},
                     {.id = "c2", .name = "g", .arguments = ""}};
  call.refusal = "no";
  full.messages.push_back(call);
  Message tool = text_message(Role::tool, "42");
  tool.tool_call_id = "c1";
  full.messages.push_back(tool);
  full.tool_choice = {.mode = ToolChoice::Mode::function, .function_name = "f"};
  full.parallel_tool_calls = false;
  full.response_format.type = ResponseFormat::Type::json_object;
  full.max_tokens = 100;
  full.max_tokens_is_completion = true;
  full.logprobs = true;
  full.top_logprobs = 3;
  full.temperature = 0.7;
  full.top_p = 1.0;
  full.presence_penalty = -0.5;
  full.frequency_penalty = 1e-7;
  full.stop = {"\n", "END"};
  full.seed = -9'000'000'000'000LL;
  full.n = 2;
  full.user = "u-1";
  full.metadata = {{"b", "2"}, {"a", "1"}};
  requests.push_back(full);
  for (auto mode : {ToolChoice::Mode::none, ToolChoice::Mode::auto_, ToolChoice::Mode::required}) {
    ChatRequest r = full;
    r.tool_choice = {.mode = mode};
    r.response_format.type = ResponseFormat::Type::text;
    r.max_tokens_is_completion = false;
    requests.push_back(r);
  }
  for (const ChatRequest& r : requests) {
    for (bool stream : {false, true}) {
      for (bool include_model : {true, false}) {
        EXPECT_EQ(oa::detail::encode_request_body(r, stream, include_model),
                  oa::detail::encode_request_body_dom(r, stream, include_model))
            << r.model << " stream=" << stream << " include_model=" << include_model;
      }
    }
  }
}

TEST(OpenAiFastEncoder, ChatResponsesMatchTheDomEncoder) {
  std::vector<ChatResponse> responses;
  for (const std::string& text : kTexts) {
    ChatResponse r;
    Choice c;
    c.message = text_message(Role::assistant, text);
    c.finish_reason = FinishReason::length;
    r.choices.push_back(c);
    r.usage = {
        .prompt_tokens = 12, .completion_tokens = 9, .cached_tokens = 3, .reasoning_tokens = 2};
    r.system_fingerprint = text;
    responses.push_back(r);
  }
  ChatResponse tools;
  Choice c0;
  c0.message.role = Role::assistant;
  c0.message.content_is_text = false;
  c0.message.tool_calls = {{.id = "c1", .name = "f", .arguments = "{}"}};
  c0.finish_reason = FinishReason::tool_calls;
  Choice c1;
  c1.index = 1;
  c1.message = text_message(Role::assistant, "a");
  c1.message.refusal = "refused";
  c1.finish_reason = FinishReason::none;
  tools.choices = {c0, c1};
  responses.push_back(tools);
  responses.push_back(ChatResponse{});  // no choices
  for (const ChatResponse& r : responses) {
    EXPECT_EQ(oa::encode_chat_response(r, kWho), oa::detail::encode_chat_response_dom(r, kWho));
  }
}

TEST(OpenAiFastEncoder, ChunksMatchTheDomEncoder) {
  std::vector<ChatChunk> chunks;
  for (const std::string& text : kTexts) {
    chunks.push_back(ChatChunk{.content = text});
    chunks.push_back(ChatChunk{.role = Role::assistant});
    chunks.push_back(ChatChunk{
        .choice_index = 2, .refusal = text, .finish_reason = FinishReason::content_filter});
  }
  ChatChunk tool_calls;
  tool_calls.tool_calls = {{.index = 0, .id = "c1", .name = "f", .arguments = ""},
                           {.index = 1, .id = "", .name = "", .arguments = "{\"x\""}};
  chunks.push_back(tool_calls);
  ChatChunk usage;
  usage.usage = Usage{.prompt_tokens = 5, .completion_tokens = 6};
  chunks.push_back(usage);
  ChatChunk last{.finish_reason = FinishReason::stop};
  last.usage = Usage{.prompt_tokens = 1};
  chunks.push_back(last);
  for (const ChatChunk& chunk : chunks) {
    EXPECT_EQ(oa::encode_chunk(chunk, kWho), oa::detail::encode_chunk_dom(chunk, kWho, {}));
  }
}

}  // namespace
}  // namespace sy::backends
