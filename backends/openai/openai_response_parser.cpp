// Upstream answers -> vocabulary: chat.completion / text_completion bodies, stream chunks and
// error bodies. Upstream bytes are untrusted: malformed ones are upstream_error, never a throw.

#include <string>

#include "json_support.h"
#include "openai_fast_parser.h"
#include "switchyard/backends/openai_json.h"

namespace sy::backends::openai {
namespace {

using detail::Json;
using detail::upstream;

// Upstream documents are bounded by the transport; this only guards the parser's recursion.
constexpr size_t kMaxUpstreamDepth = 128;

Result<Json> parse_upstream(std::string_view body, std::string_view what) {
  if (detail::json_depth(body, kMaxUpstreamDepth) > kMaxUpstreamDepth) {
    return upstream("upstream " + std::string(what) + " is nested too deeply");
  }
  auto root = detail::parse_json(body);
  if (!root || !root->is_object()) {
    return upstream("upstream " + std::string(what) + " is not a JSON object");
  }
  return std::move(*root);
}

std::string string_or_empty(const Json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int int_or(const Json& object, const char* key, int fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

Result<std::vector<ToolCall>> parse_tool_calls(const Json& calls) {
  std::vector<ToolCall> out;
  if (calls.is_null()) return out;
  if (!calls.is_array()) return upstream("upstream tool_calls is not an array");
  for (const auto& call : calls) {
    if (!call.is_object()) return upstream("upstream tool call is not an object");
    const Json fn = call.contains("function") ? call["function"] : Json();
    out.push_back(ToolCall{.id = string_or_empty(call, "id"),
                           .name = string_or_empty(fn, "name"),
                           .arguments = string_or_empty(fn, "arguments")});
  }
  return out;
}

Result<Choice> parse_choice(const Json& c, size_t position) {
  if (!c.is_object()) return upstream("upstream choice is not an object");
  Choice out;
  out.index = int_or(c, "index", static_cast<int>(position));
  out.finish_reason =
      detail::parse_finish_reason(c.contains("finish_reason") ? c["finish_reason"] : Json());
  if (out.finish_reason == FinishReason::none) out.finish_reason = FinishReason::stop;
  Message& m = out.message;
  m.role = Role::assistant;
  if (auto text = c.find("text"); text != c.end() && text->is_string()) {  // text_completion
    m.content.push_back(ContentPart{.text = text->get<std::string>()});
    return out;
  }
  auto message = c.find("message");
  if (message == c.end() || !message->is_object()) {
    return upstream("upstream choice has no message");
  }
  auto content = message->find("content");
  if (content == message->end() || content->is_null()) {
    m.content_is_null = true;
    m.content_is_text = false;
  } else if (content->is_string()) {
    m.content.push_back(ContentPart{.text = content->get<std::string>()});
  } else {
    return upstream("upstream message content is not a string");
  }
  m.refusal = string_or_empty(*message, "refusal");
  auto calls =
      parse_tool_calls(message->contains("tool_calls") ? (*message)["tool_calls"] : Json());
  if (!calls) return std::unexpected(calls.error());
  m.tool_calls = std::move(*calls);
  return out;
}

Result<ChatChunk> parse_choice_delta(const Json& c, size_t position) {
  if (!c.is_object()) return upstream("upstream chunk choice is not an object");
  ChatChunk out;
  out.choice_index = int_or(c, "index", static_cast<int>(position));
  if (auto fr = c.find("finish_reason"); fr != c.end()) {
    out.finish_reason = detail::parse_finish_reason(*fr);
  }
  if (auto text = c.find("text"); text != c.end() && text->is_string()) {  // text_completion
    out.content = text->get<std::string>();
    return out;
  }
  auto delta = c.find("delta");
  if (delta == c.end() || delta->is_null()) return out;
  if (!delta->is_object()) return upstream("upstream chunk delta is not an object");
  if (string_or_empty(*delta, "role") == "assistant") out.role = Role::assistant;
  out.content = string_or_empty(*delta, "content");
  out.refusal = string_or_empty(*delta, "refusal");
  if (auto calls = delta->find("tool_calls"); calls != delta->end() && !calls->is_null()) {
    if (!calls->is_array()) return upstream("upstream delta tool_calls is not an array");
    for (size_t i = 0; i < calls->size(); ++i) {
      const Json& call = (*calls)[i];
      if (!call.is_object()) return upstream("upstream tool call delta is not an object");
      const Json fn = call.contains("function") ? call["function"] : Json();
      out.tool_calls.push_back(ToolCallDelta{.index = int_or(call, "index", static_cast<int>(i)),
                                             .id = string_or_empty(call, "id"),
                                             .name = string_or_empty(fn, "name"),
                                             .arguments = string_or_empty(fn, "arguments")});
    }
  }
  return out;
}

bool has_error_member(const Json& root) {
  auto it = root.find("error");
  return it != root.end() && !it->is_null();
}

}  // namespace

Result<ChatResponse> parse_chat_response(std::string_view body) {
  if (auto fast = detail::parse_chat_response_fast(body, kMaxUpstreamDepth)) {
    return std::move(*fast);
  }
  return detail::parse_chat_response_dom(body);
}

Result<ChatResponse> detail::parse_chat_response_dom(std::string_view body) {
  auto root = parse_upstream(body, "response");
  if (!root) return std::unexpected(root.error());
  if (has_error_member(*root)) return std::unexpected(detail::error_from_json(0, *root));
  auto choices = root->find("choices");
  if (choices == root->end() || !choices->is_array()) {
    return upstream("upstream response has no choices array");
  }
  ChatResponse out;
  out.id = string_or_empty(*root, "id");
  out.model = string_or_empty(*root, "model");
  out.system_fingerprint = string_or_empty(*root, "system_fingerprint");
  if (auto created = root->find("created");
      created != root->end() && created->is_number_integer()) {
    out.created = created->get<int64_t>();
  }
  for (size_t i = 0; i < choices->size(); ++i) {
    auto choice = parse_choice((*choices)[i], i);
    if (!choice) return std::unexpected(choice.error());
    out.choices.push_back(std::move(*choice));
  }
  if (auto usage = root->find("usage"); usage != root->end() && usage->is_object()) {
    out.usage = detail::parse_usage(*usage);
  }
  return out;
}

Result<std::vector<ChatChunk>> parse_chunk(std::string_view data) {
  if (auto fast = detail::parse_chunk_fast(data, kMaxUpstreamDepth)) return std::move(*fast);
  return detail::parse_chunk_dom(data);
}

Result<std::vector<ChatChunk>> detail::parse_chunk_dom(std::string_view data) {
  auto root = parse_upstream(data, "stream chunk");
  if (!root) return std::unexpected(root.error());
  if (has_error_member(*root)) return std::unexpected(detail::error_from_json(0, *root));
  std::vector<ChatChunk> out;
  const std::string model = string_or_empty(*root, "model");
  if (auto choices = root->find("choices"); choices != root->end() && !choices->is_null()) {
    if (!choices->is_array()) return upstream("upstream chunk choices is not an array");
    for (size_t i = 0; i < choices->size(); ++i) {
      auto chunk = parse_choice_delta((*choices)[i], i);
      if (!chunk) return std::unexpected(chunk.error());
      if (!chunk->role && !chunk->has_content() && chunk->finish_reason == FinishReason::none) {
        continue;  // an empty delta (keep-alive, logprobs only) says nothing
      }
      chunk->model = model;
      out.push_back(std::move(*chunk));
    }
  }
  if (auto usage = root->find("usage"); usage != root->end() && usage->is_object()) {
    ChatChunk chunk;
    chunk.usage = detail::parse_usage(*usage);
    chunk.model = model;
    out.push_back(std::move(chunk));
  }
  return out;
}

Error parse_error(int status, std::string_view body) {
  std::optional<Json> root;
  if (detail::json_depth(body, kMaxUpstreamDepth) <= kMaxUpstreamDepth) {
    root = detail::parse_json(body);
  }
  if (root && (root->is_object() || root->is_string()))
    return detail::error_from_json(status, *root);
  // Not JSON (a proxy's HTML page, a plain-text panic): classify by status, quote a little.
  Error out = detail::error_from_json(status, Json());
  std::string snippet = detail::truncate_utf8(body, 200);
  for (char& c : snippet) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (!snippet.empty()) out.message += ": " + snippet;
  return out;
}

}  // namespace sy::backends::openai
