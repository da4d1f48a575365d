#include "anthropic_stream_decoder.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "common/vendor_json.h"
#include "anthropic_translator.h"

namespace sy::backends::anthropic {

using nlohmann::json;

Status AnthropicStreamDecoder::stop_with(Error error) {
  failed_ = error;
  return std::unexpected(std::move(error));
}

Status AnthropicStreamDecoder::feed(std::string_view bytes, std::vector<ChatChunk>& out) {
  if (failed_) return std::unexpected(*failed_);
  std::vector<SseEvent> events;
  bool ok = parser_.feed(bytes, events);
  for (const auto& event : events) {
    if (auto status = on_event(event, out); !status) return status;
  }
  if (!ok) {
    return stop_with(Error{.kind = ErrorKind::upstream_error,
                           .message = "anthropic: stream event exceeds the size limit"});
  }
  return {};
}

Status AnthropicStreamDecoder::finish(std::vector<ChatChunk>& out) {
  if (failed_) return std::unexpected(*failed_);
  if (!done_) {
    return stop_with(Error{.kind = ErrorKind::upstream_error,
                           .message = "anthropic: stream ended before message_stop"});
  }
  return {};
}

Status AnthropicStreamDecoder::on_event(const SseEvent& event, std::vector<ChatChunk>& out) {
  if (done_) return {};  // nothing after message_stop belongs to this message
  try {
    auto data = detail::parse_json(event.data);
    if (!data || !data->is_object()) {
      return stop_with(Error{.kind = ErrorKind::upstream_error,
                             .message = "anthropic: stream event is not a JSON object"});
    }
    // The payload's `type` is authoritative; the SSE event name is the same by contract.
    std::string type = detail::get_string(*data, "type", event.event);
    if (type == "error") {
      const json* error = detail::get_object(*data, "error");
      return stop_with(error ? error_from_json(*error, 0)
                             : Error{.kind = ErrorKind::upstream_error,
                                     .message = "anthropic: error event without details"});
    }
    if (type == "message_start") return on_message_start(*data, out);
    if (!started_ && type != "ping") {
      return stop_with(Error{.kind = ErrorKind::upstream_error,
                             .message = "anthropic: stream event before message_start"});
    }
    if (type == "content_block_start") {
      on_block_start(*data, out);
    } else if (type == "content_block_delta") {
      return on_block_delta(*data, out);
    } else if (type == "message_delta") {
      on_message_delta(*data);
    } else if (type == "message_stop") {
      on_message_stop(out);
    }
    // ping, content_block_stop and event types added later carry nothing we report.
    return {};
  } catch (const std::exception& e) {
    return stop_with(
        Error{.kind = ErrorKind::upstream_error,
              .message = std::string("anthropic: malformed stream event: ") + e.what()});
  }
}

Status AnthropicStreamDecoder::on_message_start(const json& data, std::vector<ChatChunk>& out) {
  if (started_) {
    return stop_with(Error{.kind = ErrorKind::upstream_error,
                           .message = "anthropic: second message_start in one stream"});
  }
  started_ = true;
  const json* message = detail::get_object(data, "message");
  ChatChunk chunk;
  chunk.role = Role::assistant;
  if (message != nullptr) {
    chunk.model = detail::get_string(*message, "model");
    if (const json* usage = detail::get_object(*message, "usage")) {
      input_tokens_ = detail::get_int(*usage, "input_tokens");
      usage_.cached_tokens = detail::get_int(*usage, "cache_read_input_tokens");
      usage_.cache_write_tokens = detail::get_int(*usage, "cache_creation_input_tokens");
      usage_.completion_tokens = detail::get_int(*usage, "output_tokens");
    }
  }
  out.push_back(std::move(chunk));
  return {};
}

void AnthropicStreamDecoder::on_block_start(const json& data, std::vector<ChatChunk>& out) {
  const json* block = detail::get_object(data, "content_block");
  if (block == nullptr) return;
  int block_index = static_cast<int>(detail::get_int(data, "index"));
  std::string type = detail::get_string(*block, "type");
  if (type == "tool_use") {
    int index = tool_calls_++;
    tool_index_by_block_[block_index] = index;
    ChatChunk chunk;
    chunk.tool_calls.push_back(ToolCallDelta{.index = index,
                                             .id = detail::get_string(*block, "id"),
                                             .name = detail::get_string(*block, "name")});
    out.push_back(std::move(chunk));
  } else if (type == "text") {
    // A text block normally starts empty; forward whatever it already holds.
    std::string text = detail::get_string(*block, "text");
    if (!text.empty()) {
      ChatChunk chunk;
      chunk.content = std::move(text);
      out.push_back(std::move(chunk));
    }
  }
}

Status AnthropicStreamDecoder::on_block_delta(const json& data, std::vector<ChatChunk>& out) {
  const json* delta = detail::get_object(data, "delta");
  if (delta == nullptr) return {};
  std::string type = detail::get_string(*delta, "type");
  if (type == "text_delta") {
    std::string text = detail::get_string(*delta, "text");
    if (text.empty()) return {};
    ChatChunk chunk;
    chunk.content = std::move(text);
    out.push_back(std::move(chunk));
  } else if (type == "input_json_delta") {
    int block_index = static_cast<int>(detail::get_int(data, "index"));
    auto it = tool_index_by_block_.find(block_index);
    if (it == tool_index_by_block_.end()) {
      return stop_with(Error{.kind = ErrorKind::upstream_error,
                             .message = "anthropic: input_json_delta outside a tool_use block"});
    }
    std::string fragment = detail::get_string(*delta, "partial_json");
    if (fragment.empty()) return {};
    ChatChunk chunk;
    chunk.tool_calls.push_back(
        ToolCallDelta{.index = it->second, .arguments = std::move(fragment)});
    out.push_back(std::move(chunk));
  }
  // thinking_delta, signature_delta and citations_delta are not part of the OpenAI view.
  return {};
}

void AnthropicStreamDecoder::on_message_delta(const json& data) {
  if (const json* delta = detail::get_object(data, "delta")) {
    std::string reason = detail::get_string(*delta, "stop_reason");
    if (!reason.empty()) stop_reason_ = std::move(reason);
  }
  if (const json* usage = detail::get_object(data, "usage")) {
    // message_delta's counts are cumulative; newer API versions repeat the input counts too.
    usage_.completion_tokens = detail::get_int(*usage, "output_tokens", usage_.completion_tokens);
    input_tokens_ = detail::get_int(*usage, "input_tokens", input_tokens_);
    usage_.cached_tokens = detail::get_int(*usage, "cache_read_input_tokens", usage_.cached_tokens);
    usage_.cache_write_tokens =
        detail::get_int(*usage, "cache_creation_input_tokens", usage_.cache_write_tokens);
  }
}

void AnthropicStreamDecoder::on_message_stop(std::vector<ChatChunk>& out) {
  done_ = true;
  ChatChunk finish;
  finish.finish_reason = finish_reason_from(stop_reason_);
  out.push_back(std::move(finish));
  ChatChunk usage;
  usage_.prompt_tokens = input_tokens_ + usage_.cached_tokens + usage_.cache_write_tokens;
  usage.usage = usage_;
  out.push_back(std::move(usage));
}

}  // namespace sy::backends::anthropic
