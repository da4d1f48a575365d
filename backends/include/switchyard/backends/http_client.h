#pragma once
// Asynchronous HTTP client for upstream calls: the libcurl multi interface driven by the
// gateway's Asio io_context (socket readiness and timers come from Asio; no thread per
// request), and for plain `http://` upstreams a built-in HTTP/1.1 client on the same loop
// (see HttpClientOptions::builtin_http1). Connections are reused; HTTP/2 is negotiated over TLS where the server offers it;
// TLS peers are verified unless a test turns it off. curl never leaves backends/http/.
//
// Threading: start() and cancel() may be called from any thread. Handlers of one call run
// one at a time, in order, on the client's strand, never inside start(); on_complete runs
// exactly once and is the last call (also after cancel(): with ErrorKind::cancelled).
// Given several io_contexts (one per event-loop thread), the client keeps one curl multi and
// strand per context, and a call runs on the context of the thread that started it (the first
// context when started from elsewhere): no cross-thread hand-off on the upstream leg.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/error.h"
#include "switchyard/backends/http_types.h"

namespace boost::asio {
class io_context;
}

namespace sy::backends {

struct HttpClientOptions {
  size_t max_response_bytes = 64 * 1024 * 1024;  // larger bodies fail as upstream_error
  bool verify_tls = true;
  std::string ca_file;              // extra CA bundle (tests); empty = system store
  long max_connections_per_host = 0;  // 0 = unlimited; per context (each has its own pool)
  // Plain `http://` upstreams go through a built-in HTTP/1.1 client on Asio (cheaper per call
  // than libcurl); false sends every call through libcurl. https, URLs with credentials and a
  // proxy set in the environment (http_proxy, all_proxy) always use libcurl.
  bool builtin_http1 = true;
};

struct HttpHandlers {
  std::function<void(int status, const Headers& headers)> on_head;
  std::function<void(std::string_view bytes)> on_body;
  // ok once the whole body arrived. Errors: upstream_timeout (connect, first byte, idle,
  // total), upstream_unavailable (refused, reset or closed before a response head),
  // upstream_error (reset/cut after the head, response over max_response_bytes),
  // cancelled (cancel() was called).
  std::function<void(Status result)> on_complete;
  // False: the caller reads no header of a 2xx answer, so a transport may hand on_head an
  // empty list for one instead of copying every upstream header of every proxied request.
  bool want_success_headers = true;
};

class HttpCall {
 public:
  virtual ~HttpCall() = default;
  virtual void cancel() = 0;  // idempotent, thread-safe
};

class HttpClient {
 public:
  HttpClient(boost::asio::io_context& io, HttpClientOptions options = {});
  HttpClient(const std::vector<boost::asio::io_context*>& contexts, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  std::shared_ptr<HttpCall> start(HttpRequest request, HttpTimeouts timeouts,
                                  HttpHandlers handlers);

  // Aborts every call in flight (each completes with `cancelled`); used at shutdown.
  void shutdown();

 private:
  friend struct HttpClientStrands;  // backends/http/http_client_strands.h
  class Impl;
  std::vector<boost::asio::io_context*> contexts_;
  std::vector<std::shared_ptr<Impl>> impls_;  // one per context, same order
};

// The context among `contexts` that the calling thread is running; contexts[0] when it runs
// none of them (a test thread, start-up). `contexts` must not be empty.
boost::asio::io_context& caller_context(const std::vector<boost::asio::io_context*>& contexts);

}  // namespace sy::backends
