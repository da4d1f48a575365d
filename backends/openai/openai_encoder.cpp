// Vocabulary -> OpenAI JSON: upstream request bodies and what clients receive.

#include <string>

#include "json_support.h"
#include "switchyard/backends/openai_json.h"

namespace sy::backends::openai {
namespace detail {
namespace {

// Passthrough text came from our own dump(), but a field built elsewhere could be anything:
// a malformed one is dropped rather than corrupting the whole body.
void add_extra(Json& object, const JsonFields& extra) {
  for (const auto& field : extra) {
    if (object.contains(field.key)) continue;  // known members win over passthrough
    if (auto value = parse_json(field.value_json)) object[field.key] = std::move(*value);
  }
}

Json raw_or_null(const std::string& text) {
  auto value = parse_json(text);
  return value ? std::move(*value) : Json(nullptr);
}

Json content_json(const Message& m) {
  if (m.content_is_null) return nullptr;
  if (m.content_is_text) return m.text();
  Json parts = Json::array();
  for (const auto& part : m.content) {
    switch (part.kind) {
      case ContentPart::Kind::text:
        parts.push_back(Json{{"type", "text"}, {"text", part.text}});
        break;
      case ContentPart::Kind::image_url: {
        Json image{{"url", part.url}};
        if (!part.detail.empty()) image["detail"] = part.detail;
        parts.push_back(Json{{"type", "image_url"}, {"image_url", std::move(image)}});
        break;
      }
      case ContentPart::Kind::other:
        if (auto raw = parse_json(part.raw_json)) parts.push_back(std::move(*raw));
        break;
    }
  }
  return parts;
}

Json tool_calls_json(const std::vector<ToolCall>& calls) {
  Json out = Json::array();
  for (const auto& call : calls) {
    out.push_back(Json{{"id", call.id},
                       {"type", "function"},
                       {"function", Json{{"name", call.name}, {"arguments", call.arguments}}}});
  }
  return out;
}

Json message_json(const Message& m) {
  Json out{{"role", std::string(to_string(m.role))}};
  out["content"] = content_json(m);
  if (!m.name.empty()) out["name"] = m.name;
  if (!m.tool_calls.empty()) out["tool_calls"] = tool_calls_json(m.tool_calls);
  if (!m.tool_call_id.empty()) out["tool_call_id"] = m.tool_call_id;
  if (!m.refusal.empty()) out["refusal"] = m.refusal;
  add_extra(out, m.extra);
  return out;
}

Json tool_json(const Tool& tool) {
  Json fn{{"name", tool.name}};
  if (!tool.description.empty()) fn["description"] = tool.description;
  if (!tool.parameters_json.empty()) fn["parameters"] = raw_or_null(tool.parameters_json);
  if (tool.strict) fn["strict"] = *tool.strict;
  return Json{{"type", "function"}, {"function", std::move(fn)}};
}

Json tool_choice_json(const ToolChoice& choice) {
  switch (choice.mode) {
    case ToolChoice::Mode::none:
      return "none";
    case ToolChoice::Mode::auto_:
      return "auto";
    case ToolChoice::Mode::required:
      return "required";
    case ToolChoice::Mode::function:
      return Json{{"type", "function"}, {"function", Json{{"name", choice.function_name}}}};
    case ToolChoice::Mode::unset:
      break;
  }
  return nullptr;
}

Json response_format_json(const ResponseFormat& f) {
  switch (f.type) {
    case ResponseFormat::Type::text:
      return Json{{"type", "text"}};
    case ResponseFormat::Type::json_object:
      return Json{{"type", "json_object"}};
    case ResponseFormat::Type::json_schema: {
      Json schema{{"name", f.schema_name}};
      if (!f.description.empty()) schema["description"] = f.description;
      if (!f.schema_json.empty()) schema["schema"] = raw_or_null(f.schema_json);
      if (f.strict) schema["strict"] = *f.strict;
      return Json{{"type", "json_schema"}, {"json_schema", std::move(schema)}};
    }
    case ResponseFormat::Type::unset:
      break;
  }
  return nullptr;
}

// Sampling and bookkeeping members shared by chat and legacy completions.
void add_common(Json& body, const ChatRequest& r, bool stream) {
  if (r.temperature) body["temperature"] = *r.temperature;
  if (r.top_p) body["top_p"] = *r.top_p;
  if (r.presence_penalty) body["presence_penalty"] = *r.presence_penalty;
  if (r.frequency_penalty) body["frequency_penalty"] = *r.frequency_penalty;
  if (!r.stop.empty()) body["stop"] = r.stop;
  if (r.seed) body["seed"] = *r.seed;
  if (r.n) body["n"] = *r.n;
  if (!r.user.empty()) body["user"] = r.user;
  if (!r.metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : r.metadata) meta[k] = v;
    body["metadata"] = std::move(meta);
  }
  if (stream) {
    body["stream"] = true;
    // Usage is how we bill: ask for it whatever the client asked.
    body["stream_options"] = Json{{"include_usage", true}};
  }
}

Json chat_body(const ChatRequest& r, bool stream, bool include_model) {
  Json body = Json::object();
  if (include_model) body["model"] = r.model;
  Json messages = Json::array();
  for (const auto& m : r.messages) messages.push_back(message_json(m));
  body["messages"] = std::move(messages);
  if (!r.tools.empty()) {
    Json tools = Json::array();
    for (const auto& t : r.tools) tools.push_back(tool_json(t));
    body["tools"] = std::move(tools);
  }
  if (r.tool_choice.mode != ToolChoice::Mode::unset)
    body["tool_choice"] = tool_choice_json(r.tool_choice);
  if (r.parallel_tool_calls) body["parallel_tool_calls"] = *r.parallel_tool_calls;
  if (r.response_format.type != ResponseFormat::Type::unset) {
    body["response_format"] = response_format_json(r.response_format);
  }
  if (r.max_tokens) {
    body[r.max_tokens_is_completion ? "max_completion_tokens" : "max_tokens"] = *r.max_tokens;
  }
  if (r.logprobs) body["logprobs"] = *r.logprobs;
  if (r.top_logprobs) body["top_logprobs"] = *r.top_logprobs;
  add_common(body, r, stream);
  return body;
}

Json completion_body(const ChatRequest& r, bool stream, bool include_model) {
  Json body = Json::object();
  if (include_model) body["model"] = r.model;
  body["prompt"] = r.prompt;
  if (r.max_tokens) body["max_tokens"] = *r.max_tokens;
  // Legacy logprobs is a count of alternatives, not a flag.
  if (r.logprobs && *r.logprobs) body["logprobs"] = r.top_logprobs.value_or(0);
  add_common(body, r, stream);
  return body;
}

}  // namespace

std::string encode_request_body(const ChatRequest& request, bool stream, bool include_model) {
  Json body = request.surface == ApiSurface::completions
                  ? completion_body(request, stream, include_model)
                  : chat_body(request, stream, include_model);
  add_extra(body, request.extra);
  // The transport decides these, never passthrough: a stray "stream" would make the vendor
  // answer SSE where the caller expects one JSON body, and Azure names the model in its URL.
  if (!include_model) body.erase("model");
  if (!stream) {
    body.erase("stream");
    body.erase("stream_options");
  }
  return dump(body);
}

}  // namespace detail

using detail::Json;

namespace {

Json header(std::string_view object, const ResponseIdentity& who) {
  return Json{{"id", who.id}, {"object", object}, {"created", who.created}, {"model", who.model}};
}

void add_extra_object(Json& out, std::string_view extra_json) {
  if (extra_json.empty()) return;
  if (auto extra = detail::parse_json(extra_json); extra && extra->is_object()) {
    out["x_switchyard"] = std::move(*extra);
  }
}

Json bytes_json(const std::string& text) {
  Json out = Json::array();
  for (unsigned char c : text) out.push_back(static_cast<int>(c));
  return out;
}

// OpenAI's choice `logprobs`: {"content": [...], "refusal": null}, or null when not asked.
Json logprobs_json(const std::vector<TokenLogprob>& logprobs) {
  if (logprobs.empty()) return nullptr;
  Json content = Json::array();
  for (const TokenLogprob& t : logprobs) {
    Json top = Json::array();
    for (const auto& [token, logprob] : t.top) {
      top.push_back(Json{{"token", token}, {"logprob", logprob}, {"bytes", bytes_json(token)}});
    }
    content.push_back(Json{{"token", t.token},
                           {"logprob", t.logprob},
                           {"bytes", bytes_json(t.token)},
                           {"top_logprobs", std::move(top)}});
  }
  return Json{{"content", std::move(content)}, {"refusal", nullptr}};
}

// A chunk that only reports usage is sent with "choices": [] as OpenAI does.
bool usage_only(const ChatChunk& chunk) {
  return chunk.usage && !chunk.role && !chunk.has_content() &&
         chunk.finish_reason == FinishReason::none;
}

}  // namespace

std::string encode_chat_request(const ChatRequest& request, bool stream) {
  return detail::encode_request_body(request, stream, /*include_model=*/true);
}

std::string encode_chat_response(const ChatResponse& response, const ResponseIdentity& who) {
  Json out = header("chat.completion", who);
  Json choices = Json::array();
  for (const auto& c : response.choices) {
    Json message{{"role", "assistant"}};
    bool null_content =
        c.message.content_is_null || (c.message.content.empty() && !c.message.tool_calls.empty());
    message["content"] = null_content ? Json(nullptr) : Json(c.message.text());
    message["refusal"] = c.message.refusal.empty() ? Json(nullptr) : Json(c.message.refusal);
    if (!c.message.tool_calls.empty()) {
      Json calls = Json::array();
      for (const auto& call : c.message.tool_calls) {
        calls.push_back(Json{{"id", call.id},
                             {"type", "function"},
                             {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
      }
      message["tool_calls"] = std::move(calls);
    }
    choices.push_back(Json{{"index", c.index},
                           {"message", std::move(message)},
                           {"logprobs", logprobs_json(c.logprobs)},
                           {"finish_reason", detail::finish_reason_json(c.finish_reason)}});
  }
  out["choices"] = std::move(choices);
  out["usage"] = detail::usage_json(response.usage);
  if (!response.system_fingerprint.empty()) out["system_fingerprint"] = response.system_fingerprint;
  return detail::dump(out);
}

std::string encode_completion_response(const ChatResponse& response, const ResponseIdentity& who) {
  Json out = header("text_completion", who);
  Json choices = Json::array();
  for (const auto& c : response.choices) {
    choices.push_back(Json{{"text", c.message.text()},
                           {"index", c.index},
                           {"logprobs", nullptr},
                           {"finish_reason", detail::finish_reason_json(c.finish_reason)}});
  }
  out["choices"] = std::move(choices);
  out["usage"] = detail::usage_json(response.usage);
  return detail::dump(out);
}

std::string encode_chunk(const ChatChunk& chunk, const ResponseIdentity& who,
                         std::string_view extra_json) {
  Json out = header("chat.completion.chunk", who);
  Json choices = Json::array();
  if (!usage_only(chunk)) {
    Json delta = Json::object();
    if (chunk.role) delta["role"] = std::string(to_string(*chunk.role));
    if (!chunk.content.empty() || chunk.role) delta["content"] = chunk.content;
    if (!chunk.refusal.empty()) delta["refusal"] = chunk.refusal;
    if (!chunk.tool_calls.empty()) {
      Json calls = Json::array();
      for (const auto& d : chunk.tool_calls) {
        Json call{{"index", d.index}};
        Json fn = Json::object();
        if (!d.id.empty()) {
          call["id"] = d.id;
          call["type"] = "function";
        }
        if (!d.name.empty()) fn["name"] = d.name;
        fn["arguments"] = d.arguments;
        call["function"] = std::move(fn);
        calls.push_back(std::move(call));
      }
      delta["tool_calls"] = std::move(calls);
    }
    choices.push_back(Json{{"index", chunk.choice_index},
                           {"delta", std::move(delta)},
                           {"logprobs", logprobs_json(chunk.logprobs)},
                           {"finish_reason", detail::finish_reason_json(chunk.finish_reason)}});
  }
  out["choices"] = std::move(choices);
  if (chunk.usage) out["usage"] = detail::usage_json(*chunk.usage);
  add_extra_object(out, extra_json);
  return detail::dump(out);
}

std::string encode_completion_chunk(const ChatChunk& chunk, const ResponseIdentity& who,
                                    std::string_view extra_json) {
  Json out = header("text_completion", who);
  Json choices = Json::array();
  if (!usage_only(chunk)) {
    choices.push_back(Json{{"text", chunk.content},
                           {"index", chunk.choice_index},
                           {"logprobs", nullptr},
                           {"finish_reason", detail::finish_reason_json(chunk.finish_reason)}});
  }
  out["choices"] = std::move(choices);
  if (chunk.usage) out["usage"] = detail::usage_json(*chunk.usage);
  add_extra_object(out, extra_json);
  return detail::dump(out);
}

std::string encode_error(std::string_view message, std::string_view type, std::string_view param,
                         std::string_view code) {
  auto or_null = [](std::string_view s) { return s.empty() ? Json(nullptr) : Json(s); };
  Json error{
      {"message", message}, {"type", type}, {"param", or_null(param)}, {"code", or_null(code)}};
  return detail::dump(Json{{"error", std::move(error)}});
}

}  // namespace sy::backends::openai
