#include "switchyard/backends/error.h"

namespace sy::backends {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_request: return "invalid_request";
    case ErrorKind::authentication: return "authentication";
    case ErrorKind::permission_denied: return "permission_denied";
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::payload_too_large: return "payload_too_large";
    case ErrorKind::rate_limited: return "rate_limited";
    case ErrorKind::budget_exceeded: return "budget_exceeded";
    case ErrorKind::context_length_exceeded: return "context_length_exceeded";
    case ErrorKind::content_filter: return "content_filter";
    case ErrorKind::upstream_error: return "upstream_error";
    case ErrorKind::upstream_timeout: return "upstream_timeout";
    case ErrorKind::upstream_unavailable: return "upstream_unavailable";
    case ErrorKind::overloaded: return "overloaded";
    case ErrorKind::cancelled: return "cancelled";
    case ErrorKind::internal: return "internal";
  }
  return "internal";
}

bool Error::retryable() const {
  switch (kind) {
    case ErrorKind::rate_limited:
    case ErrorKind::upstream_error:
    case ErrorKind::upstream_timeout:
    case ErrorKind::upstream_unavailable:
    case ErrorKind::overloaded:
      return true;
    default:
      return false;
  }
}

bool Error::fallback_allowed() const {
  return retryable() || kind == ErrorKind::authentication ||
         kind == ErrorKind::permission_denied || kind == ErrorKind::not_found;
}

}  // namespace sy::backends
