#pragma once
// The HTTP/1.1 server (Boost.Beast on Asio; Beast never leaves gateway/server/). The handler
// knows nothing of the transport: it gets a plain request and a ResponseWriter.
//
// Limits enforced here: body size (unless a BodySink takes the body) and header size,
// header/body/idle deadlines, max connections, pipelining cap. Transport abuse (slowloris,
// oversized headers, too many connections) closes the connection; an oversized body gets 413
// from the handler's error formatter.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/error.h"
#include "switchyard/backends/http_types.h"
#include "switchyard/gateway/config.h"

namespace boost::asio {
class io_context;
}

namespace sy::gateway {

using backends::Headers;

class BodySink;

struct ServerRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path + query as sent
  Headers headers;     // lower-case names
  std::string body;    // empty when a BodySink took the body
  std::string remote_address;
  // The sink the handler's body_sink() gave for this request (null: the body is in `body`).
  std::shared_ptr<BodySink> body_sink;
};

// A request body consumed as it arrives instead of being buffered (uploads larger than
// limits.max_body_bytes, which does not apply to it: the sink bounds what it accepts). Called
// on the connection's strand, in order, with pieces of any size.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // The next bytes of the body. An error stops reading: the request is handed to the handler
  // at once (it finds the error in its sink and answers), and the connection closes after the
  // answer since the rest of the body was not read.
  virtual backends::Status write(std::string_view bytes) = 0;
};

// How the response goes back. Thread-safe: every method may be called from any thread (it is
// posted to the connection's strand). Either respond() once, or start_stream() then write()*
// then finish(). After the client disconnects, calls are ignored and on_cancel fires.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  virtual void respond(int status, Headers headers, std::string body) = 0;
  virtual void start_stream(int status, Headers headers) = 0;  // chunked transfer
  virtual void write(std::string data) = 0;
  virtual void finish() = 0;
  // Called once (on the connection's strand) if the client goes away before finish();
  // registered after that, it runs at once.
  virtual void on_cancel(std::function<void()> callback) = 0;
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual void handle(ServerRequest request, std::shared_ptr<ResponseWriter> writer) = 0;
  // Asked once a request's headers are in, before any body byte (`head` has no body): a sink
  // takes the body as it arrives, null buffers it (bounded by limits.max_body_bytes). Runs on
  // the connection's strand: it must not block.
  virtual std::shared_ptr<BodySink> body_sink(const ServerRequest& head) {
    (void)head;
    return nullptr;
  }
  // The response for a request the server rejects itself (413 body too large, 503 draining,
  // 400 unparseable) in the API's error format.
  virtual void reject(const ServerRequest& request, const backends::Error& error,
                      ResponseWriter& writer) = 0;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, ServerLimits limits, RequestHandler& handler);
  // One acceptor on contexts[0] hands accepted connections to the contexts round-robin; a
  // connection (and everything its handler runs on the caller's context) stays on its context.
  // A single listener keeps port 0 simple: one bound port, no SO_REUSEPORT siblings.
  HttpServer(const std::vector<boost::asio::io_context*>& contexts, ServerLimits limits,
             RequestHandler& handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. Port 0 picks a free port; returns the bound port.
  backends::Result<uint16_t> listen(const std::string& host, uint16_t port);

  // Stops accepting; requests arriving on open connections get 503 (via reject); in-flight
  // responses may finish until `deadline`, then every connection is closed. `done` runs once
  // the last connection is gone.
  void drain(std::chrono::milliseconds deadline, std::function<void()> done);

  size_t open_connections() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sy::gateway
