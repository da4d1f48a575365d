#include "json_support.h"

#include <algorithm>
#include <cctype>

namespace sy::backends::openai::detail {

size_t json_depth(std::string_view text, size_t limit) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        deepest = std::max(deepest, ++depth);
        if (deepest > limit) return deepest;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

std::optional<Json> parse_json(std::string_view text) {
  // allow_exceptions=false: a parse error yields a `discarded` value instead of throwing.
  Json value = Json::parse(text.begin(), text.end(), nullptr, false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::string dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string truncate_utf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  // Step back over continuation bytes (10xxxxxx) so a code point is never split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

std::unexpected<Error> invalid(std::string param, std::string message) {
  return std::unexpected(Error{.kind = ErrorKind::invalid_request,
                               .message = std::move(message),
                               .param = std::move(param)});
}

std::unexpected<Error> upstream(std::string message) {
  return std::unexpected(Error{.kind = ErrorKind::upstream_error, .message = std::move(message)});
}

std::string_view type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

FinishReason parse_finish_reason(const Json& value) {
  if (!value.is_string()) return FinishReason::none;
  return parse_finish_reason(std::string_view(value.get_ref<const std::string&>()));
}

FinishReason parse_finish_reason(std::string_view s) {
  if (s == "stop") return FinishReason::stop;
  if (s == "length") return FinishReason::length;
  if (s == "tool_calls" || s == "function_call") return FinishReason::tool_calls;
  if (s == "content_filter") return FinishReason::content_filter;
  if (s == "error") return FinishReason::error;
  // Compatible servers invent their own (e.g. "eos"); the generation did end normally.
  return FinishReason::stop;
}

Json finish_reason_json(FinishReason reason) {
  if (reason == FinishReason::none) return nullptr;
  return std::string(to_string(reason));
}

namespace {

int64_t int_member(const Json& object, const char* key) {
  if (!object.is_object()) return 0;
  auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return 0;
  if (it->is_number_float()) return static_cast<int64_t>(it->get<double>());
  return it->get<int64_t>();
}

const Json& member_or_null(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

bool contains_any(std::string_view haystack, std::initializer_list<std::string_view> needles) {
  std::string lower(haystack);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view n) { return lower.find(n) != std::string::npos; });
}

std::string string_member(const Json& object, const char* key) {
  const Json& v = member_or_null(object, key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();  // some servers send numeric codes
  return {};
}

}  // namespace

Usage parse_usage(const Json& usage) {
  Usage u;
  u.prompt_tokens = int_member(usage, "prompt_tokens");
  u.completion_tokens = int_member(usage, "completion_tokens");
  u.cached_tokens = int_member(member_or_null(usage, "prompt_tokens_details"), "cached_tokens");
  u.reasoning_tokens =
      int_member(member_or_null(usage, "completion_tokens_details"), "reasoning_tokens");
  return u;
}

Json usage_json(const Usage& usage) {
  Json u = Json::object();
  u["prompt_tokens"] = usage.prompt_tokens;
  u["completion_tokens"] = usage.completion_tokens;
  u["total_tokens"] = usage.total();
  u["prompt_tokens_details"] = Json{{"cached_tokens", usage.cached_tokens}};
  u["completion_tokens_details"] = Json{{"reasoning_tokens", usage.reasoning_tokens}};
  return u;
}

Error error_from_json(int status, const Json& body) {
  // OpenAI: {"error":{"message","type","param","code"}}. Compatible servers also send
  // {"error":"text"} (Ollama) or a bare {"message":...}.
  Json error = body;
  if (body.is_object()) {
    if (auto it = body.find("error"); it != body.end()) error = *it;
  }
  Error out;
  out.upstream_status = status;
  std::string type;
  if (error.is_object()) {
    out.message = string_member(error, "message");
    out.code = string_member(error, "code");
    out.param = string_member(error, "param");
    type = string_member(error, "type");
  } else if (error.is_string()) {
    out.message = error.get<std::string>();
  }
  out.message = truncate_utf8(out.message, 1000);
  if (out.message.empty()) {
    out.message = status > 0 ? "upstream answered HTTP " + std::to_string(status)
                             : "upstream reported an error";
  }

  const bool context_exceeded =
      out.code == "context_length_exceeded" ||
      contains_any(out.message, {"context length", "context_length_exceeded", "maximum context",
                                 "context window"});
  const bool filtered = out.code == "content_filter" || out.code == "content_policy_violation";

  if (status == 401) {
    out.kind = ErrorKind::authentication;
  } else if (status == 403) {
    out.kind = ErrorKind::permission_denied;
  } else if (status == 404) {
    out.kind = ErrorKind::not_found;
  } else if (status == 413) {
    out.kind = ErrorKind::payload_too_large;
  } else if (status == 429) {
    // An exhausted quota is a billing state: retrying or waiting cannot help.
    out.kind =
        out.code == "insufficient_quota" ? ErrorKind::permission_denied : ErrorKind::rate_limited;
  } else if (status >= 400 && status < 500) {
    out.kind = context_exceeded ? ErrorKind::context_length_exceeded
               : filtered       ? ErrorKind::content_filter
                                : ErrorKind::invalid_request;
  } else if (status == 503) {
    out.kind = ErrorKind::upstream_unavailable;
  } else if (status >= 500) {
    out.kind = ErrorKind::upstream_error;
  } else {
    // Inside a 2xx stream: only the body says what went wrong.
    if (context_exceeded) {
      out.kind = ErrorKind::context_length_exceeded;
    } else if (filtered) {
      out.kind = ErrorKind::content_filter;
    } else if (out.code == "insufficient_quota") {
      out.kind = ErrorKind::permission_denied;
    } else if (contains_any(type, {"rate_limit"}) || contains_any(out.code, {"rate_limit"})) {
      out.kind = ErrorKind::rate_limited;
    } else if (type == "invalid_request_error") {
      out.kind = ErrorKind::invalid_request;
    } else {
      out.kind = ErrorKind::upstream_error;
    }
  }
  return out;
}

}  // namespace sy::backends::openai::detail
