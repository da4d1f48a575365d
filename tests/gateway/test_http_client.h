#pragma once
// A blocking HTTP client for tests, built on the product's own HttpClient (so the tests also
// exercise it) with a private io_context thread. Every call is bounded by its timeout.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/backends/http_client.h"
#include "switchyard/backends/sse.h"

namespace sy::testing {

struct TestResponse {
  int status = 0;
  backends::Headers headers;
  std::string body;
  std::optional<backends::Error> error;  // transport failure

  std::string header(std::string_view name) const {
    auto v = backends::find_header(headers, name);
    return v ? std::string(*v) : std::string();
  }
  // The `data:` payloads of an SSE body.
  std::vector<std::string> sse_data() const {
    backends::SseParser parser;
    std::vector<backends::SseEvent> events;
    parser.feed(body, events);
    std::vector<std::string> out;
    for (auto& e : events) out.push_back(e.data);
    return out;
  }
};

class TestHttpClient {
 public:
  TestHttpClient()
      : work_(boost::asio::make_work_guard(io_)),
        client_(io_, backends::HttpClientOptions{}),
        thread_([this] { io_.run(); }) {}
  ~TestHttpClient() {
    client_.shutdown();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  TestResponse request(std::string method, std::string url, std::string body = {},
                       backends::Headers headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto done = std::make_shared<std::promise<TestResponse>>();
    auto response = std::make_shared<TestResponse>();
    backends::HttpRequest req{.method = std::move(method), .url = std::move(url),
                              .headers = std::move(headers), .body = std::move(body)};
    if (!req.body.empty() && !backends::find_header(req.headers, "content-type")) {
      req.headers.emplace_back("content-type", "application/json");
    }
    backends::HttpTimeouts timeouts{.connect = timeout, .first_byte = timeout, .idle = timeout,
                                    .total = timeout};
    backends::HttpHandlers handlers;
    handlers.on_head = [response](int status, const backends::Headers& h) {
      response->status = status;
      response->headers = h;
    };
    handlers.on_body = [response](std::string_view bytes) { response->body.append(bytes); };
    handlers.on_complete = [response, done](backends::Status result) {
      if (!result) response->error = result.error();
      done->set_value(std::move(*response));
    };
    client_.start(std::move(req), timeouts, std::move(handlers));
    return done->get_future().get();
  }

  TestResponse post(const std::string& url, std::string body, backends::Headers headers = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return request("POST", url, std::move(body), std::move(headers), timeout);
  }
  TestResponse get(const std::string& url, backends::Headers headers = {}) {
    return request("GET", url, {}, std::move(headers));
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  backends::HttpClient client_;
  std::thread thread_;
};

}  // namespace sy::testing
