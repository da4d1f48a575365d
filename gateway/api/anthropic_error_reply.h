#pragma once
// The one table that maps an ErrorKind to what a client of the Anthropic surface sees: HTTP
// status and Anthropic error `type`, in Anthropic's error JSON
//   {"type":"error","error":{"type":"invalid_request_error","message":"..."},"request_id":"..."}
// Statuses are Anthropic's documented ones: 400 invalid_request_error, 401
// authentication_error, 403 permission_error, 404 not_found_error, 413 request_too_large,
// 429 rate_limit_error, 500 api_error, 529 overloaded_error. A spent budget of ours
// (budget_exceeded) is 400 invalid_request_error, as Anthropic answers a reached spend limit.

#include <string>
#include <string_view>

#include "api/error_reply.h"
#include "switchyard/backends/error.h"

namespace sy::gateway {

struct AnthropicErrorClass {
  int status;
  const char* type;  // Anthropic error `type`
};

AnthropicErrorClass anthropic_classify(backends::ErrorKind kind);

// Status, body and headers (content-type; retry-after on 429 and 529).
ErrorReply anthropic_error_reply(const backends::Error& error, std::string_view request_id);

// The data of the `error` SSE event that ends a stream failing after content (same JSON).
std::string anthropic_error_json(const backends::Error& error, std::string_view request_id);

}  // namespace sy::gateway
