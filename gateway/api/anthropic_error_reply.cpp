#include "api/anthropic_error_reply.h"

#include <nlohmann/json.hpp>

namespace sy::gateway {

using backends::ErrorKind;

AnthropicErrorClass anthropic_classify(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_request:
    case ErrorKind::context_length_exceeded:
    case ErrorKind::content_filter: return {400, "invalid_request_error"};
    case ErrorKind::authentication: return {401, "authentication_error"};
    case ErrorKind::permission_denied: return {403, "permission_error"};
    case ErrorKind::not_found: return {404, "not_found_error"};
    case ErrorKind::payload_too_large: return {413, "request_too_large"};
    case ErrorKind::rate_limited: return {429, "rate_limit_error"};
    // Anthropic answers a reached spend limit (the organization's or a workspace's) with 400
    // invalid_request_error, not 429: retrying cannot help until the period resets, and its
    // SDKs do not retry a 400. (402 billing_error is about payment details, not a limit.)
    case ErrorKind::budget_exceeded: return {400, "invalid_request_error"};
    // Capacity, ours or the upstream's: Anthropic's clients retry 529 with backoff.
    case ErrorKind::upstream_unavailable:
    case ErrorKind::overloaded: return {529, "overloaded_error"};
    case ErrorKind::cancelled: return {499, "api_error"};
    case ErrorKind::upstream_error:
    case ErrorKind::upstream_timeout:
    case ErrorKind::internal: return {500, "api_error"};
  }
  return {500, "api_error"};
}

std::string anthropic_error_json(const backends::Error& error, std::string_view request_id) {
  backends::Error seen = as_seen_by_client(error);
  nlohmann::json body = {
      {"type", "error"},
      {"error", {{"type", anthropic_classify(seen.kind).type}, {"message", seen.message}}}};
  if (!request_id.empty()) body["request_id"] = request_id;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ErrorReply anthropic_error_reply(const backends::Error& error, std::string_view request_id) {
  ErrorReply reply;
  reply.status = anthropic_classify(as_seen_by_client(error).kind).status;
  reply.body = anthropic_error_json(error, request_id);
  reply.headers.emplace_back("content-type", "application/json");
  if (error.retry_after && (reply.status == 429 || reply.status == 529)) {
    auto seconds = (error.retry_after->count() + 999) / 1000;  // whole seconds, rounded up
    reply.headers.emplace_back("retry-after", std::to_string(seconds));
  }
  return reply;
}

}  // namespace sy::gateway
