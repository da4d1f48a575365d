#include "api/anthropic_response_encoder.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "switchyard/backends/sse.h"

namespace sy::gateway {

namespace {

using backends::FinishReason;
using nlohmann::json;

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json usage_object(const backends::Usage& usage) {
  int64_t uncached = usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens;
  return json{{"input_tokens", std::max<int64_t>(uncached, 0)},
              {"cache_creation_input_tokens", usage.cache_write_tokens},
              {"cache_read_input_tokens", usage.cached_tokens},
              {"output_tokens", usage.completion_tokens}};
}

json tool_input(const std::string& arguments) {
  json input = json::parse(arguments, nullptr, /*allow_exceptions=*/false);
  return input.is_object() ? input : json::object();
}

// Vendors without tool-call ids (Gemini) still need one the client can answer to.
std::string tool_id(const std::string& id, const MessageIdentity& who, size_t index) {
  return id.empty() ? "toolu_" + who.id + "_" + std::to_string(index) : id;
}

std::string event(std::string_view name, const json& data) {
  return backends::format_sse(dump(data), name);
}

void add_extra(json& object, std::string_view extra_json) {
  if (extra_json.empty()) return;
  json extra = json::parse(extra_json, nullptr, /*allow_exceptions=*/false);
  if (extra.is_object()) object["x_switchyard"] = std::move(extra);
}

}  // namespace

std::string_view anthropic_stop_reason(FinishReason reason) {
  switch (reason) {
    case FinishReason::length: return "max_tokens";
    case FinishReason::tool_calls: return "tool_use";
    case FinishReason::content_filter: return "refusal";
    case FinishReason::none:
    case FinishReason::stop:
    case FinishReason::error: return "end_turn";
  }
  return "end_turn";
}

std::string anthropic_usage_json(const backends::Usage& usage) { return dump(usage_object(usage)); }

std::string encode_anthropic_message(const backends::ChatResponse& response,
                                     const MessageIdentity& who, std::string_view extra_json) {
  json content = json::array();
  FinishReason finish = FinishReason::stop;
  if (!response.choices.empty()) {
    const backends::Choice& choice = response.choices.front();
    finish = choice.finish_reason;
    std::string text = choice.message.text();
    if (text.empty()) text = choice.message.refusal;
    if (!text.empty()) content.push_back(json{{"type", "text"}, {"text", text}});
    for (size_t i = 0; i < choice.message.tool_calls.size(); ++i) {
      const backends::ToolCall& call = choice.message.tool_calls[i];
      content.push_back(json{{"type", "tool_use"},
                             {"id", tool_id(call.id, who, i)},
                             {"name", call.name},
                             {"input", tool_input(call.arguments)}});
    }
  }
  json message{{"id", who.id},
               {"type", "message"},
               {"role", "assistant"},
               {"model", who.model},
               {"content", std::move(content)},
               {"stop_reason", anthropic_stop_reason(finish)},
               {"stop_sequence", nullptr},
               {"usage", usage_object(response.usage)}};
  add_extra(message, extra_json);
  return dump(message);
}

std::string AnthropicStreamEncoder::start(const backends::Usage& usage_so_far) {
  json usage = usage_object(usage_so_far);
  usage["output_tokens"] = 0;
  json message{{"id", who_.id},
               {"type", "message"},
               {"role", "assistant"},
               {"model", who_.model},
               {"content", json::array()},
               {"stop_reason", nullptr},
               {"stop_sequence", nullptr},
               {"usage", std::move(usage)}};
  return event("message_start", json{{"type", "message_start"}, {"message", std::move(message)}}) +
         event("ping", json{{"type", "ping"}});
}

std::string AnthropicStreamEncoder::close_open_block() {
  if (!open_) return {};
  std::string out = event("content_block_stop", json{{"type", "content_block_stop"}, {"index", *open_}});
  open_.reset();
  return out;
}

std::string AnthropicStreamEncoder::open_block(std::string block_json) {
  std::string out = close_open_block();
  open_ = next_index_++;
  out += event("content_block_start", json{{"type", "content_block_start"},
                                           {"index", *open_},
                                           {"content_block", json::parse(block_json)}});
  return out;
}

std::string AnthropicStreamEncoder::add(const backends::ChatChunk& chunk) {
  if (chunk.choice_index != 0) return {};
  std::string out;
  std::string text = chunk.content + chunk.refusal;
  if (!text.empty()) {
    if (!open_ || !open_is_text_) {
      out += open_block(R"({"type":"text","text":""})");
      open_is_text_ = true;
    }
    out += event("content_block_delta",
                 json{{"type", "content_block_delta"},
                      {"index", *open_},
                      {"delta", {{"type", "text_delta"}, {"text", std::move(text)}}}});
  }
  for (const backends::ToolCallDelta& delta : chunk.tool_calls) {
    auto it = tool_blocks_.find(delta.index);
    if (it == tool_blocks_.end()) {
      json block{{"type", "tool_use"},
                 {"id", tool_id(delta.id, who_, static_cast<size_t>(delta.index))},
                 {"name", delta.name},
                 {"input", json::object()}};
      out += open_block(dump(block));
      open_is_text_ = false;
      it = tool_blocks_.emplace(delta.index, *open_).first;
    }
    // A fragment for a block already closed (vendors send calls one after another, so this
    // does not happen with them) still names its own block: the client assembles by index.
    if (!delta.arguments.empty()) {
      out += event("content_block_delta",
                   json{{"type", "content_block_delta"},
                        {"index", it->second},
                        {"delta", {{"type", "input_json_delta"}, {"partial_json", delta.arguments}}}});
    }
  }
  return out;
}

std::string AnthropicStreamEncoder::finish(FinishReason reason, const backends::Usage& usage,
                                           std::string_view extra_json) {
  std::string out = close_open_block();
  json delta{{"type", "message_delta"},
             {"delta", {{"stop_reason", anthropic_stop_reason(reason)}, {"stop_sequence", nullptr}}},
             {"usage", usage_object(usage)}};
  add_extra(delta, extra_json);
  out += event("message_delta", delta);
  out += event("message_stop", json{{"type", "message_stop"}});
  return out;
}

std::string AnthropicStreamEncoder::error(std::string_view error_json) {
  return backends::format_sse(error_json, "error");
}

}  // namespace sy::gateway
