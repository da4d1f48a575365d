// Vocabulary -> OpenAI JSON: upstream request bodies and what clients receive.

#include <string>

#include "json_support.h"
#include "json_writer.h"
#include "switchyard/backends/openai_json.h"

namespace sy::backends::openai {

// Literals appended as string views: their length is known, no strlen call per piece.
using namespace std::string_view_literals;

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

std::string encode_request_body_dom(const ChatRequest& request, bool stream,
                                   bool include_model) {
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

namespace {

// `"key":` after a comma unless it is the object's first member.
class Members {
 public:
  explicit Members(std::string& out) : out_(out) {}
  std::string& key(std::string_view name) {
    if (!first_) out_.push_back(',');
    first_ = false;
    write_key(out_, name);
    return out_;
  }

 private:
  std::string& out_;
  bool first_ = true;
};

void write_bool(std::string& out, bool value) { out += value ? "true" : "false"; }

// What the DOM path would need to parse (raw JSON text) or merge (passthrough members,
// repeated metadata keys) is left to it.
bool fast_request_fits(const ChatRequest& r) {
  if (r.surface != ApiSurface::chat_completions || !r.extra.empty() || !r.tools.empty() ||
      r.response_format.type == ResponseFormat::Type::json_schema) {
    return false;
  }
  for (const Message& m : r.messages) {
    if (!m.extra.empty()) return false;
    if (m.content_is_null || m.content_is_text) continue;
    for (const ContentPart& part : m.content) {
      if (part.kind == ContentPart::Kind::other) return false;
    }
  }
  for (size_t i = 0; i < r.metadata.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (r.metadata[i].first == r.metadata[j].first) return false;
    }
  }
  return true;
}

void write_message(std::string& out, const Message& m) {
  out.push_back('{');
  Members members(out);
  write_string(members.key("role"), to_string(m.role));
  members.key("content");
  if (m.content_is_null) {
    out += "null"sv;
  } else if (m.content_is_text) {
    write_string(out, m.text());
  } else {
    out.push_back('[');
    bool first = true;
    for (const ContentPart& part : m.content) {
      if (!first) out.push_back(',');
      first = false;
      if (part.kind == ContentPart::Kind::text) {
        out += R"({"type":"text","text":)"sv;
        write_string(out, part.text);
        out.push_back('}');
      } else {
        out += R"({"type":"image_url","image_url":{"url":)"sv;
        write_string(out, part.url);
        if (!part.detail.empty()) {
          out += R"(,"detail":)"sv;
          write_string(out, part.detail);
        }
        out += "}}"sv;
      }
    }
    out.push_back(']');
  }
  if (!m.name.empty()) write_string(members.key("name"), m.name);
  if (!m.tool_calls.empty()) {
    members.key("tool_calls").push_back('[');
    for (size_t i = 0; i < m.tool_calls.size(); ++i) {
      const ToolCall& call = m.tool_calls[i];
      if (i > 0) out.push_back(',');
      out += R"({"id":)"sv;
      write_string(out, call.id);
      out += R"(,"type":"function","function":{"name":)"sv;
      write_string(out, call.name);
      out += R"(,"arguments":)"sv;
      write_string(out, call.arguments);
      out += "}}"sv;
    }
    out.push_back(']');
  }
  if (!m.tool_call_id.empty()) write_string(members.key("tool_call_id"), m.tool_call_id);
  if (!m.refusal.empty()) write_string(members.key("refusal"), m.refusal);
  out.push_back('}');
}

// chat_body + add_common, member for member in the same order, written directly.
std::string fast_request_body(const ChatRequest& r, bool stream, bool include_model) {
  std::string out;
  size_t estimate = 128 + r.model.size();
  for (const Message& m : r.messages) {
    estimate += 48;
    for (const ContentPart& part : m.content) estimate += part.text.size() + part.url.size();
  }
  out.reserve(estimate);
  out.push_back('{');
  Members members(out);
  if (include_model) write_string(members.key("model"), r.model);
  members.key("messages").push_back('[');
  for (size_t i = 0; i < r.messages.size(); ++i) {
    if (i > 0) out.push_back(',');
    write_message(out, r.messages[i]);
  }
  out.push_back(']');
  switch (r.tool_choice.mode) {
    case ToolChoice::Mode::none:
      members.key("tool_choice") += R"("none")";
      break;
    case ToolChoice::Mode::auto_:
      members.key("tool_choice") += R"("auto")";
      break;
    case ToolChoice::Mode::required:
      members.key("tool_choice") += R"("required")";
      break;
    case ToolChoice::Mode::function:
      members.key("tool_choice") += R"({"type":"function","function":{"name":)";
      write_string(out, r.tool_choice.function_name);
      out += "}}"sv;
      break;
    case ToolChoice::Mode::unset:
      break;
  }
  if (r.parallel_tool_calls) write_bool(members.key("parallel_tool_calls"), *r.parallel_tool_calls);
  if (r.response_format.type == ResponseFormat::Type::text) {
    members.key("response_format") += R"({"type":"text"})";
  } else if (r.response_format.type == ResponseFormat::Type::json_object) {
    members.key("response_format") += R"({"type":"json_object"})";
  }
  if (r.max_tokens) {
    write_int(members.key(r.max_tokens_is_completion ? "max_completion_tokens" : "max_tokens"),
              *r.max_tokens);
  }
  if (r.logprobs) write_bool(members.key("logprobs"), *r.logprobs);
  if (r.top_logprobs) write_int(members.key("top_logprobs"), *r.top_logprobs);
  if (r.temperature) write_double(members.key("temperature"), *r.temperature);
  if (r.top_p) write_double(members.key("top_p"), *r.top_p);
  if (r.presence_penalty) write_double(members.key("presence_penalty"), *r.presence_penalty);
  if (r.frequency_penalty) write_double(members.key("frequency_penalty"), *r.frequency_penalty);
  if (!r.stop.empty()) {
    members.key("stop").push_back('[');
    for (size_t i = 0; i < r.stop.size(); ++i) {
      if (i > 0) out.push_back(',');
      write_string(out, r.stop[i]);
    }
    out.push_back(']');
  }
  if (r.seed) write_int(members.key("seed"), *r.seed);
  if (r.n) write_int(members.key("n"), *r.n);
  if (!r.user.empty()) write_string(members.key("user"), r.user);
  if (!r.metadata.empty()) {
    members.key("metadata").push_back('{');
    Members meta(out);
    for (const auto& [key, value] : r.metadata) write_string(meta.key(key), value);
    out.push_back('}');
  }
  if (stream) {
    members.key("stream") += "true";
    members.key("stream_options") += R"({"include_usage":true})";
  }
  out.push_back('}');
  return out;
}

}  // namespace

std::string encode_request_body(const ChatRequest& request, bool stream, bool include_model) {
  if (fast_request_fits(request)) return fast_request_body(request, stream, include_model);
  return encode_request_body_dom(request, stream, include_model);
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

namespace {

using detail::Members;
using detail::write_int;
using detail::write_string;

void write_header(std::string& out, std::string_view object, const ResponseIdentity& who) {
  out += R"({"id":)"sv;
  write_string(out, who.id);
  out += R"(,"object":)"sv;
  write_string(out, object);
  out += R"(,"created":)"sv;
  write_int(out, who.created);
  out += R"(,"model":)"sv;
  write_string(out, who.model);
}

void write_finish_reason(std::string& out, FinishReason reason) {
  if (reason == FinishReason::none) {
    out += "null"sv;
  } else {
    write_string(out, to_string(reason));
  }
}

void write_usage(std::string& out, const Usage& usage) {
  out += R"({"prompt_tokens":)"sv;
  write_int(out, usage.prompt_tokens);
  out += R"(,"completion_tokens":)"sv;
  write_int(out, usage.completion_tokens);
  out += R"(,"total_tokens":)"sv;
  write_int(out, usage.total());
  out += R"(,"prompt_tokens_details":{"cached_tokens":)"sv;
  write_int(out, usage.cached_tokens);
  out += R"(},"completion_tokens_details":{"reasoning_tokens":)"sv;
  write_int(out, usage.reasoning_tokens);
  out += "}}"sv;
}

// A message's text for write_string: its one text part in place (the usual case), else the
// parts joined into `joined`.
std::string_view text_of(const Message& m, std::string& joined) {
  const ContentPart* only = nullptr;
  for (const ContentPart& part : m.content) {
    if (part.kind != ContentPart::Kind::text) continue;
    if (only) {
      joined = m.text();
      return joined;
    }
    only = &part;
  }
  return only ? std::string_view(only->text) : std::string_view();
}

// encode_chat_response_dom's bytes without its DOM; logprobs are left to the DOM path.
std::string fast_chat_response(const ChatResponse& response, const ResponseIdentity& who) {
  // Reserved once for the whole answer (JSON framing and usage take ~400 bytes besides the
  // texts; escapes may still grow it).
  size_t size = 512 + who.id.size() + who.model.size() + response.system_fingerprint.size();
  for (const Choice& c : response.choices) {
    size += 192 + c.message.refusal.size();
    for (const ContentPart& part : c.message.content) size += part.text.size();
    for (const ToolCall& call : c.message.tool_calls) {
      size += 96 + call.id.size() + call.name.size() + call.arguments.size();
    }
  }
  std::string out;
  out.reserve(size);
  write_header(out, "chat.completion", who);
  out += R"(,"choices":[)"sv;
  for (size_t i = 0; i < response.choices.size(); ++i) {
    const Choice& c = response.choices[i];
    if (i > 0) out.push_back(',');
    out += R"({"index":)"sv;
    write_int(out, c.index);
    out += R"(,"message":{"role":"assistant","content":)"sv;
    bool null_content =
        c.message.content_is_null || (c.message.content.empty() && !c.message.tool_calls.empty());
    if (null_content) {
      out += "null"sv;
    } else {
      std::string joined;
      write_string(out, text_of(c.message, joined));
    }
    out += R"(,"refusal":)"sv;
    if (c.message.refusal.empty()) {
      out += "null"sv;
    } else {
      write_string(out, c.message.refusal);
    }
    if (!c.message.tool_calls.empty()) {
      out += R"(,"tool_calls":[)"sv;
      for (size_t j = 0; j < c.message.tool_calls.size(); ++j) {
        const ToolCall& call = c.message.tool_calls[j];
        if (j > 0) out.push_back(',');
        out += R"({"id":)"sv;
        write_string(out, call.id);
        out += R"(,"type":"function","function":{"name":)"sv;
        write_string(out, call.name);
        out += R"(,"arguments":)"sv;
        write_string(out, call.arguments);
        out += "}}"sv;
      }
      out.push_back(']');
    }
    out += R"(},"logprobs":null,"finish_reason":)"sv;
    write_finish_reason(out, c.finish_reason);
    out.push_back('}');
  }
  out += R"(],"usage":)"sv;
  write_usage(out, response.usage);
  if (!response.system_fingerprint.empty()) {
    out += R"(,"system_fingerprint":)"sv;
    write_string(out, response.system_fingerprint);
  }
  out.push_back('}');
  return out;
}

std::string fast_chunk(const ChatChunk& chunk, const ResponseIdentity& who) {
  std::string out;
  out.reserve(200 + who.id.size() + who.model.size() + chunk.content.size());
  write_header(out, "chat.completion.chunk", who);
  out += R"(,"choices":[)"sv;
  if (!usage_only(chunk)) {
    out += R"({"index":)"sv;
    write_int(out, chunk.choice_index);
    out += R"(,"delta":{)"sv;
    Members delta(out);
    if (chunk.role) write_string(delta.key("role"), to_string(*chunk.role));
    if (!chunk.content.empty() || chunk.role) write_string(delta.key("content"), chunk.content);
    if (!chunk.refusal.empty()) write_string(delta.key("refusal"), chunk.refusal);
    if (!chunk.tool_calls.empty()) {
      delta.key("tool_calls").push_back('[');
      for (size_t i = 0; i < chunk.tool_calls.size(); ++i) {
        const ToolCallDelta& d = chunk.tool_calls[i];
        if (i > 0) out.push_back(',');
        out += R"({"index":)"sv;
        write_int(out, d.index);
        if (!d.id.empty()) {
          out += R"(,"id":)"sv;
          write_string(out, d.id);
          out += R"(,"type":"function")"sv;
        }
        out += R"(,"function":{)"sv;
        if (!d.name.empty()) {
          out += R"("name":)"sv;
          write_string(out, d.name);
          out.push_back(',');
        }
        out += R"("arguments":)"sv;
        write_string(out, d.arguments);
        out += "}}"sv;
      }
      out.push_back(']');
    }
    out += R"(},"logprobs":null,"finish_reason":)"sv;
    write_finish_reason(out, chunk.finish_reason);
    out.push_back('}');
  }
  out.push_back(']');
  if (chunk.usage) {
    out += R"(,"usage":)"sv;
    write_usage(out, *chunk.usage);
  }
  out.push_back('}');
  return out;
}

bool has_logprobs(const ChatResponse& response) {
  for (const Choice& c : response.choices) {
    if (!c.logprobs.empty()) return true;
  }
  return false;
}

}  // namespace

std::string encode_chat_response(const ChatResponse& response, const ResponseIdentity& who) {
  if (!has_logprobs(response)) return fast_chat_response(response, who);
  return detail::encode_chat_response_dom(response, who);
}

std::string encode_chunk(const ChatChunk& chunk, const ResponseIdentity& who,
                         std::string_view extra_json) {
  if (chunk.logprobs.empty() && extra_json.empty()) return fast_chunk(chunk, who);
  return detail::encode_chunk_dom(chunk, who, extra_json);
}

std::string detail::encode_chat_response_dom(const ChatResponse& response,
                                             const ResponseIdentity& who) {
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

std::string detail::encode_chunk_dom(const ChatChunk& chunk, const ResponseIdentity& who,
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
