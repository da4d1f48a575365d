#pragma once
// HTTP/1.1 over plain TCP on Asio, for `http://` upstreams (a local vLLM, llama.cpp server,
// Ollama, a fake vendor). Compared with the libcurl path it saves what a proxied request pays
// for generality: no readiness polls (responses are read with speculative reads), no liveness
// poll before reusing a connection (an idle pooled connection keeps a read pending, so a server
// that closes it is noticed when it does), no easy handle to configure. HttpClient routes a
// call here when serves() says so and keeps libcurl for https, proxies and URLs with
// credentials. Private to backends/http/; no Beast or socket types in this header.
//
// Contract: the one of HttpClient (http_client.h): same handlers, error kinds, deadlines and
// max_response_bytes; handlers run on this client's strand, never inside start(). Connections
// are kept alive per host:port (max_connections_per_host counts open ones; calls over it wait
// for one to come free). A pooled connection found dead while the request is being written
// (nothing sent) is replaced once, transparently; once the request is out, a failure is the
// caller's to retry.

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <string_view>

#include "switchyard/backends/http_client.h"

namespace sy::backends::http {

class PlainHttpClient {
 public:
  PlainHttpClient(boost::asio::io_context& io, const HttpClientOptions& options);
  ~PlainHttpClient();  // shuts down: calls in flight complete as cancelled
  PlainHttpClient(const PlainHttpClient&) = delete;
  PlainHttpClient& operator=(const PlainHttpClient&) = delete;

  // Whether a call to `url` can go through this client: `http://` without user info. (Proxy
  // settings from the environment are the caller's check: it keeps curl then.)
  static bool serves(std::string_view url);

  // Both are moved from (once, into the call).
  std::shared_ptr<HttpCall> start(HttpRequest&& request, HttpTimeouts timeouts,
                                  HttpHandlers&& handlers);
  void shutdown();

  // The one strand every call's handlers run on.
  boost::asio::strand<boost::asio::io_context::executor_type> strand() const;

  class State;  // the implementation (public only so that its transfers can name it)

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sy::backends::http
