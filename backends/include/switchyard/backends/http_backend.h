#pragma once
// The one Backend for every HTTP vendor: a Translator for the wire format plus the transport
// policy shared by all of them — retries with exponential backoff and full jitter that honour
// Retry-After, a circuit breaker, a concurrency limit and the upstream deadlines.

#include <chrono>
#include <memory>
#include <vector>

#include "switchyard/backends/backend.h"
#include "switchyard/backends/http_client.h"
#include "switchyard/backends/translator.h"

namespace boost::asio {
class io_context;
}

namespace sy::backends {

struct RetryPolicy {
  int max_attempts = 3;  // attempts on this backend, the first included
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{8'000};
  // A Retry-After longer than this is not waited for: the call fails (and the caller may
  // fall back to another backend) instead of holding the client.
  std::chrono::milliseconds max_retry_after{30'000};
};

struct CircuitBreakerOptions {
  int failure_threshold = 5;  // consecutive retryable failures that open the circuit
  std::chrono::milliseconds open_for{30'000};  // then one probe call is let through
};

struct HttpBackendOptions {
  BackendInfo info;
  Endpoint endpoint;
  HttpTimeouts timeouts;
  RetryPolicy retry;
  CircuitBreakerOptions breaker;
  int max_concurrency = 0;  // calls in flight at once; 0 = unlimited; over it: overloaded
};

std::shared_ptr<Backend> make_http_backend(boost::asio::io_context& io, HttpClient& client,
                                           std::unique_ptr<Translator> translator,
                                           HttpBackendOptions options);
// One context per event-loop thread: each chat() call runs on the context of the thread that
// makes it (see caller_context), so give `client` the same contexts.
std::shared_ptr<Backend> make_http_backend(const std::vector<boost::asio::io_context*>& contexts,
                                           HttpClient& client,
                                           std::unique_ptr<Translator> translator,
                                           HttpBackendOptions options);

}  // namespace sy::backends
