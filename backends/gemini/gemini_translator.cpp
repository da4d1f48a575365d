#include "gemini_translator.h"

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/vendor_json.h"
#include "gemini_stream_decoder.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {

std::unique_ptr<Translator> make_gemini_translator() {
  return std::make_unique<gemini::GeminiTranslator>();
}

}  // namespace sy::backends

namespace sy::backends::gemini {

namespace {

using nlohmann::json;

// The model is a path segment of the URL: only characters of real model names may pass, so
// no request can steer the upstream path or query.
bool is_safe_model_name(std::string_view model) {
  if (model.empty() || model == "." || model == "..") return false;
  for (char c : model) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// The SDK's base URL has no version segment; a configured ".../v1beta" is tolerated.
std::string model_url(std::string_view base, std::string_view model, bool stream) {
  while (base.ends_with('/')) base.remove_suffix(1);
  std::string url(base);
  if (!url.ends_with("/v1beta") && !url.ends_with("/v1")) url += "/v1beta";
  url += "/models/";
  url += model;
  url += stream ? ":streamGenerateContent?alt=sse" : ":generateContent";
  return url;
}

ChatResponse to_response(ResponseView view) {
  ChatResponse response;
  response.id = std::move(view.id);
  response.model = std::move(view.model);
  for (auto& candidate : view.candidates) {
    Choice choice;
    choice.index = candidate.index;
    choice.message.role = Role::assistant;
    for (size_t n = 0; n < candidate.calls.size(); ++n) {
      ToolCall& call = candidate.calls[n];
      if (call.id.empty()) call.id = synthetic_call_id(candidate.index, static_cast<int>(n));
    }
    bool has_calls = !candidate.calls.empty();
    if (!candidate.text.empty() || !has_calls) {
      choice.message.content.push_back(ContentPart{.text = std::move(candidate.text)});
    } else {
      choice.message.content_is_null = true;
    }
    choice.message.tool_calls = std::move(candidate.calls);
    choice.finish_reason = finish_reason_from(candidate.finish_reason, has_calls);
    response.choices.push_back(std::move(choice));
  }
  if (view.usage) response.usage = *view.usage;
  return response;
}

}  // namespace

Capabilities GeminiTranslator::capabilities() const {
  return Capabilities{
      .multiple_choices = true, .completions_api = false, .passthrough_fields = false};
}

Result<HttpRequest> GeminiTranslator::encode_request(const ChatRequest& request,
                                                     const Endpoint& endpoint, bool stream) const {
  try {
    std::string_view model = request.model;
    if (model.starts_with("models/")) model.remove_prefix(7);
    if (!is_safe_model_name(model)) {
      return std::unexpected(Error{.kind = ErrorKind::invalid_request,
                                   .message = "model name is not a valid gemini model name",
                                   .param = "model"});
    }
    auto body = encode_generate_body(request);
    if (!body) return std::unexpected(body.error());
    HttpRequest http;
    http.url = model_url(endpoint.base_url, model, stream);
    http.headers = {
        {"content-type", "application/json"},
        {"accept", stream ? "text/event-stream" : "application/json"},
        {"x-goog-api-key", endpoint.api_key},
    };
    for (const auto& header : endpoint.headers) http.headers.push_back(header);
    http.body = std::move(*body);
    return http;
  } catch (const std::exception& e) {
    return fail(ErrorKind::internal, std::string("gemini: encoding the request: ") + e.what());
  }
}

Result<ChatResponse> GeminiTranslator::decode_response(std::string_view body) const {
  try {
    auto parsed = detail::parse_json(body);
    if (!parsed) return fail(ErrorKind::upstream_error, "gemini: response is not valid JSON");
    auto view = read_response(*parsed);
    if (!view) return std::unexpected(view.error());
    if (!view->block_reason.empty() && view->candidates.empty()) {
      return std::unexpected(blocked_prompt_error(view->block_reason));
    }
    if (view->candidates.empty()) {
      return fail(ErrorKind::upstream_error, "gemini: response without candidates");
    }
    return to_response(std::move(*view));
  } catch (const std::exception& e) {
    return fail(ErrorKind::upstream_error, std::string("gemini: malformed response: ") + e.what());
  }
}

std::unique_ptr<StreamDecoder> GeminiTranslator::make_stream_decoder() const {
  return std::make_unique<GeminiStreamDecoder>();
}

Error GeminiTranslator::decode_error(int status, const Headers& headers,
                                     std::string_view body) const {
  Error out;
  try {
    auto parsed = detail::parse_json(body);
    // Without alt=sse Gemini frames errors in a JSON array; accept both shapes.
    if (parsed && parsed->is_array() && !parsed->empty()) *parsed = (*parsed)[0];
    const json* error = parsed ? detail::get_object(*parsed, "error") : nullptr;
    if (error != nullptr) {
      out = error_from_json(*error, status);
    } else {
      out = error_from_json(json::object(), status);
      out.message = "gemini answered HTTP " + std::to_string(status);
      out.code.clear();
    }
  } catch (const std::exception&) {
    out = error_from_json(json::object(), status);
  }
  out.upstream_status = status;
  out.retry_after = parse_retry_after(headers);
  return out;
}

}  // namespace sy::backends::gemini
