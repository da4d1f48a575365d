#pragma once
// One HTTP exchange on the asynchronous HttpClient, waited for: for worker threads that talk
// to a vendor in a few sequential steps (the batch APIs), never for the client's event loop.

#include <functional>

#include "switchyard/backends/error.h"
#include "switchyard/backends/http_client.h"
#include "switchyard/backends/http_types.h"

namespace sy::backends {

struct FetchedResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

// The whole response (any status), or the transport's error. `stop`, when set, is polled every
// 50 ms; true cancels the call (ErrorKind::cancelled). Bounded by `timeouts.total`.
Result<FetchedResponse> blocking_fetch(HttpClient& client, HttpRequest request,
                                       const HttpTimeouts& timeouts,
                                       const std::function<bool()>& stop = {});

}  // namespace sy::backends
