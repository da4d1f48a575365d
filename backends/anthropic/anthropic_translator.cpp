#include "anthropic_translator.h"

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/json_splice.h"
#include "common/vendor_json.h"
#include "anthropic_stream_decoder.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {

std::unique_ptr<Translator> make_anthropic_translator() {
  return std::make_unique<anthropic::AnthropicTranslator>();
}

}  // namespace sy::backends

namespace sy::backends::anthropic {

namespace {

using nlohmann::json;

// The SDKs' base URL has no version segment; a configured ".../v1" is tolerated.
std::string messages_url(std::string_view base) {
  while (base.ends_with('/')) base.remove_suffix(1);
  std::string url(base);
  if (!url.ends_with("/v1")) url += "/v1";
  return url + "/messages";
}

ErrorKind kind_from_status(int status) {
  switch (status) {
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
    case 529:
      return ErrorKind::upstream_unavailable;
    case 504:
      return ErrorKind::upstream_timeout;
    default:
      return status >= 400 && status < 500 ? ErrorKind::invalid_request : ErrorKind::upstream_error;
  }
}

// Anthropic's documented error types; nullopt for a type this code does not know.
std::optional<ErrorKind> kind_from_type(std::string_view type) {
  if (type == "invalid_request_error") return ErrorKind::invalid_request;
  if (type == "authentication_error") return ErrorKind::authentication;
  if (type == "permission_error" || type == "billing_error") return ErrorKind::permission_denied;
  if (type == "not_found_error") return ErrorKind::not_found;
  if (type == "request_too_large") return ErrorKind::payload_too_large;
  if (type == "rate_limit_error") return ErrorKind::rate_limited;
  if (type == "api_error") return ErrorKind::upstream_error;
  if (type == "overloaded_error") return ErrorKind::upstream_unavailable;
  if (type == "timeout_error") return ErrorKind::upstream_timeout;
  return std::nullopt;
}

bool says_context_too_long(std::string_view message) {
  std::string lower = detail::ascii_lower(message);
  return lower.find("prompt is too long") != std::string::npos ||
         lower.find("exceed context limit") != std::string::npos ||
         lower.find("context window") != std::string::npos;
}

Result<ChatResponse> parse_message(const json& body) {
  if (!body.is_object() || detail::get_string(body, "type") == "error") {
    if (const json* error = detail::get_object(body, "error")) {
      return std::unexpected(error_from_json(*error, 0));
    }
    return fail(ErrorKind::upstream_error, "anthropic: response is not a message object");
  }
  const json* content = detail::get_array(body, "content");
  if (content == nullptr) {
    return fail(ErrorKind::upstream_error, "anthropic: message without content array");
  }
  ChatResponse response;
  response.id = detail::get_string(body, "id");
  response.model = detail::get_string(body, "model");
  Choice choice;
  choice.message.role = Role::assistant;
  std::string text;
  for (const json& block : *content) {
    std::string type = detail::get_string(block, "type");
    if (type == "text") {
      text += detail::get_string(block, "text");
    } else if (type == "tool_use") {
      ToolCall call{.id = detail::get_string(block, "id"),
                    .name = detail::get_string(block, "name"),
                    .arguments = "{}"};
      if (auto it = block.find("input"); it != block.end() && !it->is_null()) {
        call.arguments = it->dump(-1, ' ', false, json::error_handler_t::replace);
      }
      choice.message.tool_calls.push_back(std::move(call));
    }
    // thinking / redacted_thinking and server-tool blocks have no place in the OpenAI view.
  }
  if (!text.empty() || choice.message.tool_calls.empty()) {
    choice.message.content.push_back(ContentPart{.text = std::move(text)});
  } else {
    choice.message.content_is_null = true;
  }
  choice.finish_reason = finish_reason_from(detail::get_string(body, "stop_reason"));
  response.choices.push_back(std::move(choice));
  if (const json* usage = detail::get_object(body, "usage")) {
    int64_t cache_read = detail::get_int(*usage, "cache_read_input_tokens");
    int64_t cache_write = detail::get_int(*usage, "cache_creation_input_tokens");
    response.usage.prompt_tokens =
        detail::get_int(*usage, "input_tokens") + cache_read + cache_write;
    response.usage.completion_tokens = detail::get_int(*usage, "output_tokens");
    response.usage.cached_tokens = cache_read;
    response.usage.cache_write_tokens = cache_write;
  }
  return response;
}

}  // namespace

FinishReason finish_reason_from(std::string_view stop_reason) {
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") {
    return FinishReason::length;
  }
  if (stop_reason == "tool_use") return FinishReason::tool_calls;
  if (stop_reason == "refusal") return FinishReason::content_filter;
  // end_turn, stop_sequence, pause_turn (a server tool paused; the turn is over for us).
  return FinishReason::stop;
}

Error error_from_json(const json& error, int status) {
  Error out;
  out.upstream_status = status;
  std::string type = detail::get_string(error, "type");
  out.message = detail::get_string(error, "message");
  if (out.message.empty()) out.message = type.empty() ? "anthropic error" : type;
  auto kind = kind_from_type(type);
  out.kind = kind ? *kind : (status != 0 ? kind_from_status(status) : ErrorKind::upstream_error);
  out.code = type;
  if (out.kind == ErrorKind::invalid_request && says_context_too_long(out.message)) {
    out.kind = ErrorKind::context_length_exceeded;
    out.code = "context_length_exceeded";
  }
  return out;
}

Capabilities AnthropicTranslator::capabilities() const {
  return Capabilities{.multiple_choices = false,
                      .completions_api = false,
                      .passthrough_fields = false,
                      .native_protocol = "anthropic"};
}

namespace {

Headers base_headers(const Endpoint& endpoint, bool stream, std::string_view version) {
  Headers headers = {
      {"content-type", "application/json"},
      {"accept", stream ? "text/event-stream" : "application/json"},
      {"x-api-key", endpoint.api_key},
      {"anthropic-version",
       !version.empty()              ? std::string(version)
       : endpoint.api_version.empty() ? std::string(kDefaultVersion)
                                      : endpoint.api_version},
  };
  return headers;
}

}  // namespace

Result<HttpRequest> AnthropicTranslator::encode_native(const NativeRequest& native,
                                                       std::string_view model,
                                                       const Endpoint& endpoint,
                                                       bool stream) const {
  if (native.protocol != "anthropic") {
    return fail(ErrorKind::internal, "anthropic: cannot forward a " + native.protocol + " request");
  }
  try {
    auto body = detail::replace_top_level_member(native.body, "model", json(model).dump());
    if (!body) return fail(ErrorKind::invalid_request, "anthropic: request has no model member");
    HttpRequest http;
    http.url = messages_url(endpoint.base_url);
    auto version = find_header(native.headers, "anthropic-version");
    http.headers = base_headers(endpoint, stream, version.value_or(""));
    for (const auto& header : endpoint.headers) {
      if (header.first == "anthropic-beta" && find_header(native.headers, "anthropic-beta")) {
        continue;  // the client's beta list is the one its body was written for
      }
      http.headers.push_back(header);
    }
    for (const auto& [name, value] : native.headers) {
      if (name == "anthropic-beta") http.headers.emplace_back(name, value);
    }
    http.body = std::move(*body);
    return http;
  } catch (const std::exception& e) {
    return fail(ErrorKind::internal, std::string("anthropic: forwarding the request: ") + e.what());
  }
}

Result<HttpRequest> AnthropicTranslator::encode_request(const ChatRequest& request,
                                                        const Endpoint& endpoint,
                                                        bool stream) const {
  try {
    auto body = encode_messages_body(request, stream);
    if (!body) return std::unexpected(body.error());
    HttpRequest http;
    http.url = messages_url(endpoint.base_url);
    http.headers = base_headers(endpoint, stream, "");
    for (const auto& header : endpoint.headers) http.headers.push_back(header);
    http.body = std::move(*body);
    return http;
  } catch (const std::exception& e) {
    return fail(ErrorKind::internal, std::string("anthropic: encoding the request: ") + e.what());
  }
}

Result<ChatResponse> AnthropicTranslator::decode_response(std::string_view body) const {
  try {
    auto parsed = detail::parse_json(body);
    if (!parsed) return fail(ErrorKind::upstream_error, "anthropic: response is not valid JSON");
    return parse_message(*parsed);
  } catch (const std::exception& e) {
    return fail(ErrorKind::upstream_error,
                std::string("anthropic: malformed response: ") + e.what());
  }
}

std::unique_ptr<StreamDecoder> AnthropicTranslator::make_stream_decoder() const {
  return std::make_unique<AnthropicStreamDecoder>();
}

Error AnthropicTranslator::decode_error(int status, const Headers& headers,
                                        std::string_view body) const {
  Error out;
  try {
    auto parsed = detail::parse_json(body);
    const json* error = parsed ? detail::get_object(*parsed, "error") : nullptr;
    if (error != nullptr) {
      out = error_from_json(*error, status);
    } else {
      out.kind = kind_from_status(status);
      out.upstream_status = status;
      out.message = "anthropic answered HTTP " + std::to_string(status);
    }
  } catch (const std::exception&) {
    out = Error{.kind = kind_from_status(status),
                .message = "anthropic answered HTTP " + std::to_string(status),
                .upstream_status = status};
  }
  out.retry_after = parse_retry_after(headers);
  return out;
}

}  // namespace sy::backends::anthropic
