// GenerateContentResponse and Gemini error bodies -> plain values, shared by the buffered
// and the streaming decoder.

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/vendor_json.h"
#include "gemini_translator.h"

namespace sy::backends::gemini {

namespace {

using nlohmann::json;

Usage read_usage(const json& meta) {
  Usage usage;
  // toolUsePromptTokenCount counts tool results Gemini itself fetched: billed as input.
  usage.prompt_tokens =
      detail::get_int(meta, "promptTokenCount") + detail::get_int(meta, "toolUsePromptTokenCount");
  usage.reasoning_tokens = detail::get_int(meta, "thoughtsTokenCount");
  // Thinking tokens are billed as output; OpenAI counts reasoning inside completion_tokens.
  usage.completion_tokens = detail::get_int(meta, "candidatesTokenCount") + usage.reasoning_tokens;
  usage.cached_tokens = detail::get_int(meta, "cachedContentTokenCount");
  return usage;
}

CandidateView read_candidate(const json& candidate, int position) {
  CandidateView view;
  view.index = static_cast<int>(detail::get_int(candidate, "index", position));
  view.finish_reason = detail::get_string(candidate, "finishReason");
  const json* content = detail::get_object(candidate, "content");
  const json* parts = content ? detail::get_array(*content, "parts") : nullptr;
  if (parts == nullptr) return view;
  for (const json& part : *parts) {
    if (!part.is_object()) continue;
    if (auto thought = part.find("thought");
        thought != part.end() && thought->is_boolean() && thought->get<bool>()) {
      continue;  // a thought summary is not part of the answer
    }
    if (auto text = part.find("text"); text != part.end() && text->is_string()) {
      view.text += text->get<std::string>();
    } else if (const json* call = detail::get_object(part, "functionCall")) {
      ToolCall tool{.id = detail::get_string(*call, "id"),
                    .name = detail::get_string(*call, "name"),
                    .arguments = "{}"};
      if (auto args = call->find("args"); args != call->end() && !args->is_null()) {
        tool.arguments = args->dump(-1, ' ', false, json::error_handler_t::replace);
      }
      view.calls.push_back(std::move(tool));
    }
  }
  return view;
}

ErrorKind kind_from_status_name(std::string_view status, int http_status) {
  if (status == "INVALID_ARGUMENT" || status == "FAILED_PRECONDITION" || status == "OUT_OF_RANGE") {
    return ErrorKind::invalid_request;
  }
  if (status == "UNAUTHENTICATED") return ErrorKind::authentication;
  if (status == "PERMISSION_DENIED") return ErrorKind::permission_denied;
  if (status == "NOT_FOUND") return ErrorKind::not_found;
  if (status == "RESOURCE_EXHAUSTED") return ErrorKind::rate_limited;
  if (status == "UNAVAILABLE") return ErrorKind::upstream_unavailable;
  if (status == "DEADLINE_EXCEEDED") return ErrorKind::upstream_timeout;
  if (status == "INTERNAL" || status == "UNKNOWN") return ErrorKind::upstream_error;
  switch (http_status) {
    case 400:
      return ErrorKind::invalid_request;
    case 401:
      return ErrorKind::authentication;
    case 403:
      return ErrorKind::permission_denied;
    case 404:
      return ErrorKind::not_found;
    case 413:
      return ErrorKind::payload_too_large;
    case 429:
      return ErrorKind::rate_limited;
    case 503:
      return ErrorKind::upstream_unavailable;
    case 504:
      return ErrorKind::upstream_timeout;
    default:
      return http_status >= 400 && http_status < 500 ? ErrorKind::invalid_request
                                                     : ErrorKind::upstream_error;
  }
}

// Gemini reports a bad key as 400 INVALID_ARGUMENT; the ErrorInfo detail says which.
bool says_key_invalid(const json& error, std::string_view message) {
  if (const json* details = detail::get_array(error, "details")) {
    for (const json& item : *details) {
      if (detail::get_string(item, "reason") == "API_KEY_INVALID") return true;
    }
  }
  return detail::ascii_lower(message).find("api key not valid") != std::string::npos;
}

bool says_too_many_tokens(std::string_view message) {
  std::string lower = detail::ascii_lower(message);
  return lower.find("exceeds the maximum number of tokens") != std::string::npos ||
         lower.find("input token count") != std::string::npos ||
         lower.find("token count exceeds") != std::string::npos ||
         lower.find("context window") != std::string::npos;
}

}  // namespace

Result<ResponseView> read_response(const json& body) {
  if (!body.is_object()) {
    return fail(ErrorKind::upstream_error, "gemini: response is not a JSON object");
  }
  if (const json* error = detail::get_object(body, "error")) {
    return std::unexpected(error_from_json(*error, 0));
  }
  ResponseView view;
  view.id = detail::get_string(body, "responseId");
  view.model = detail::get_string(body, "modelVersion");
  if (const json* feedback = detail::get_object(body, "promptFeedback")) {
    view.block_reason = detail::get_string(*feedback, "blockReason");
  }
  if (const json* candidates = detail::get_array(body, "candidates")) {
    int position = 0;
    for (const json& candidate : *candidates) {
      if (candidate.is_object()) view.candidates.push_back(read_candidate(candidate, position));
      ++position;
    }
  }
  if (const json* meta = detail::get_object(body, "usageMetadata")) view.usage = read_usage(*meta);
  return view;
}

FinishReason finish_reason_from(std::string_view reason, bool has_tool_calls) {
  if (reason == "MAX_TOKENS") return FinishReason::length;
  if (reason == "SAFETY" || reason == "RECITATION" || reason == "BLOCKLIST" ||
      reason == "PROHIBITED_CONTENT" || reason == "SPII" || reason == "IMAGE_SAFETY" ||
      reason == "IMAGE_PROHIBITED_CONTENT") {
    return FinishReason::content_filter;
  }
  // Gemini says STOP after function calls too; OpenAI clients look for tool_calls.
  return has_tool_calls ? FinishReason::tool_calls : FinishReason::stop;
}

std::string synthetic_call_id(int choice, int call) {
  return "call_" + std::to_string(choice) + "_" + std::to_string(call);
}

Error error_from_json(const json& error, int status) {
  Error out;
  int code = static_cast<int>(detail::get_int(error, "code", status));
  out.upstream_status = status;
  std::string status_name = detail::get_string(error, "status");
  out.message = detail::get_string(error, "message");
  if (out.message.empty()) out.message = status_name.empty() ? "gemini error" : status_name;
  out.kind = kind_from_status_name(status_name, code);
  out.code = status_name;
  if (out.kind == ErrorKind::invalid_request && says_key_invalid(error, out.message)) {
    out.kind = ErrorKind::authentication;
  } else if (out.kind == ErrorKind::invalid_request && says_too_many_tokens(out.message)) {
    out.kind = ErrorKind::context_length_exceeded;
    out.code = "context_length_exceeded";
  }
  return out;
}

Error blocked_prompt_error(std::string_view reason) {
  return Error{.kind = ErrorKind::content_filter,
               .message = "gemini refused the prompt (blockReason " + std::string(reason) + ")",
               .code = "content_filter"};
}

}  // namespace sy::backends::gemini
