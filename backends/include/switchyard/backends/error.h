#pragma once
// The one error type of the data plane. Every fallible data-plane function returns
// Result<T> = std::expected<T, Error>; nothing throws across an async handler.
// Each API surface maps ErrorKind to its own status code and error JSON in one table
// (gateway/api), so a kind means the same thing wherever it is raised.

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace sy::backends {

enum class ErrorKind {
  invalid_request,          // 400: the caller's request is malformed or unsupported
  authentication,           // 401: missing/unknown key (ours) or rejected credentials (vendor)
  permission_denied,        // 403
  not_found,                // 404: unknown model, route or object
  payload_too_large,        // 413
  rate_limited,             // 429: from a vendor (retryable) or our own limits
  budget_exceeded,          // 429 (OpenAI insufficient_quota): a spend budget of ours is spent
  context_length_exceeded,  // 400 from a vendor: prompt too long for the model
  content_filter,           // 400 from a vendor: refused by its content policy
  upstream_error,           // 502: a vendor answered 5xx, garbage, or cut the stream
  upstream_timeout,         // 504: connect, first byte or idle deadline passed
  upstream_unavailable,     // 502/503: connection refused/reset, circuit open, no backend
  overloaded,               // 503: our own capacity (draining, concurrency limit)
  cancelled,                // the client went away; never reported to anyone
  internal,                 // 500: a bug
};

std::string_view to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;  // safe to show to the caller and to log: never prompt text or secrets
  int upstream_status = 0;                           // the vendor's HTTP status, 0 if none
  std::optional<std::chrono::milliseconds> retry_after;  // from Retry-After / retry-after-ms
  std::string param;                                 // OpenAI's `param`, when known
  std::string code;                                  // OpenAI's `code`, e.g. context_length_exceeded
  std::string backend;                               // which backend raised it, if any

  // Worth trying the same backend again (after backoff): 429, 5xx, timeouts, resets.
  bool retryable() const;
  // Worth trying the next candidate backend: anything that says this backend cannot
  // serve now (incl. rejected credentials), but not what the caller must fix.
  bool fallback_allowed() const;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return std::unexpected(Error{.kind = kind, .message = std::move(message)});
}

}  // namespace sy::backends
