#include "api/error_reply.h"

#include "switchyard/backends/openai_json.h"

namespace sy::gateway {

using backends::ErrorKind;

ErrorClass classify(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_request: return {400, "invalid_request_error", "", false};
    case ErrorKind::authentication: return {401, "invalid_request_error", "invalid_api_key", false};
    case ErrorKind::permission_denied: return {403, "permission_error", "", false};
    case ErrorKind::not_found: return {404, "invalid_request_error", "model_not_found", false};
    case ErrorKind::payload_too_large: return {413, "invalid_request_error", "payload_too_large", false};
    case ErrorKind::rate_limited: return {429, "rate_limit_error", "rate_limit_exceeded", false};
    // OpenAI's answer when an account's spend limit is reached.
    case ErrorKind::budget_exceeded: return {429, "insufficient_quota", "insufficient_quota", false};
    case ErrorKind::context_length_exceeded:
      return {400, "invalid_request_error", "context_length_exceeded", false};
    case ErrorKind::content_filter: return {400, "invalid_request_error", "content_filter", false};
    case ErrorKind::upstream_error: return {502, "api_error", "upstream_error", true};
    case ErrorKind::upstream_timeout: return {504, "api_error", "upstream_timeout", true};
    case ErrorKind::upstream_unavailable: return {503, "api_error", "upstream_unavailable", true};
    case ErrorKind::overloaded: return {503, "api_error", "overloaded", true};
    case ErrorKind::cancelled: return {499, "api_error", "cancelled", false};
    case ErrorKind::internal: return {500, "api_error", "internal_error", true};
  }
  return {500, "api_error", "internal_error", true};
}

// The client's key was fine, so it must not see a 401/403 for the gateway's.
backends::Error as_seen_by_client(const backends::Error& error) {
  bool credentials = error.kind == ErrorKind::authentication ||
                     error.kind == ErrorKind::permission_denied;
  if (error.backend.empty() || !credentials) return error;
  backends::Error out = error;
  out.kind = ErrorKind::upstream_error;
  out.code = "upstream_auth_failed";
  out.message = "Backend '" + error.backend + "' rejected the gateway's credentials";
  return out;
}

namespace {

std::string body_of(const backends::Error& seen) {
  backends::Error error = as_seen_by_client(seen);
  ErrorClass c = classify(error.kind);
  std::string code = error.code.empty() ? c.default_code : error.code;
  return backends::openai::encode_error(error.message, c.type, error.param, code);
}

}  // namespace

ErrorReply openai_error_reply(const backends::Error& error) {
  ErrorReply reply;
  reply.status = classify(as_seen_by_client(error).kind).status;
  reply.body = body_of(error);
  reply.headers.emplace_back("content-type", "application/json");
  if (error.retry_after && (reply.status == 429 || reply.status == 503)) {
    // Whole seconds, rounded up, as HTTP requires.
    auto seconds = (error.retry_after->count() + 999) / 1000;
    reply.headers.emplace_back("retry-after", std::to_string(seconds));
  }
  return reply;
}

std::string openai_stream_error(const backends::Error& error) { return body_of(error); }

}  // namespace sy::gateway
