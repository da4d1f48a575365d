// With several I/O threads, a request and the upstream call it makes must stay on one thread:
// connections are spread over the event loop's contexts, and HttpClient / HttpBackend run a
// call on the context of the thread that starts it (no cross-thread hand-off per request).

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/backends/http_client.h"
#include "switchyard/gateway/event_loop.h"
#include "switchyard/gateway/http_server.h"
#include "test_http_client.h"
#include "test_server.h"

namespace sy::gateway {
namespace {

using namespace std::chrono_literals;
using testing::RunningServer;
using testing::TestHttpClient;

// Where each part of one proxied request ran.
struct Trace {
  std::thread::id handled;        // RequestHandler::handle
  std::thread::id caller_thread;  // the thread running caller_context(contexts) at handle time
  std::set<std::thread::id> upstream;  // every HttpClient handler of its upstream call
};

// Answers each request by fetching the upstream's /echo with HttpClient, recording threads.
class ProxyHandler : public RequestHandler {
 public:
  ProxyHandler(backends::HttpClient& client,
               const std::vector<boost::asio::io_context*>& contexts, uint16_t upstream_port)
      : client_(client), contexts_(contexts), port_(upstream_port) {}

  void handle(ServerRequest request, std::shared_ptr<ResponseWriter> writer) override {
    const std::string id = request.target;
    const auto here = std::this_thread::get_id();
    bool caller_context_is_ours =
        backends::caller_context(contexts_).get_executor().running_in_this_thread();
    {
      std::lock_guard lock(mutex_);
      traces_[id].handled = here;
      if (caller_context_is_ours) traces_[id].caller_thread = here;
    }
    backends::HttpRequest upstream{.method = "GET",
                                   .url = "http://127.0.0.1:" + std::to_string(port_) + "/echo"};
    auto record = [this, id] {
      std::lock_guard lock(mutex_);
      traces_[id].upstream.insert(std::this_thread::get_id());
    };
    backends::HttpHandlers handlers;
    handlers.on_head = [record](int, const backends::Headers&) { record(); };
    handlers.on_body = [record](std::string_view) { record(); };
    handlers.on_complete = [record, writer](backends::Status result) {
      record();
      writer->respond(result ? 200 : 502, {}, result ? "ok" : result.error().message);
    };
    auto call = client_.start(std::move(upstream), {}, std::move(handlers));
    std::lock_guard lock(mutex_);
    calls_.push_back(std::move(call));
  }

  void reject(const ServerRequest&, const backends::Error& error,
              ResponseWriter& writer) override {
    writer.respond(500, {}, error.message);
  }

  std::map<std::string, Trace> traces() {
    std::lock_guard lock(mutex_);
    return traces_;
  }

 private:
  backends::HttpClient& client_;
  const std::vector<boost::asio::io_context*>& contexts_;
  uint16_t port_;
  std::mutex mutex_;
  std::map<std::string, Trace> traces_;
  std::vector<std::shared_ptr<backends::HttpCall>> calls_;
};

TEST(IoThreadAffinity, RequestsUseBothThreadsAndUpstreamCallsStayOnTheirRequestsThread) {
  RunningServer upstream;  // answers /echo
  EventLoop loop(2);
  backends::HttpClient client(loop.contexts());
  ProxyHandler proxy(client, loop.contexts(), upstream.port());
  auto server = std::make_unique<HttpServer>(loop.contexts(), testing::test_limits(), proxy);
  auto bound = server->listen("127.0.0.1", 0);
  ASSERT_TRUE(bound.has_value());
  std::thread runner([&] { loop.run(); });

  // Four connections open at once (the acceptor deals them to the two contexts in turn), each
  // sending three keep-alive requests; requests on different connections overlap.
  constexpr int kConnections = 4;
  constexpr int kRounds = 3;
  std::vector<std::unique_ptr<TestHttpClient>> clients;
  for (int c = 0; c < kConnections; ++c) {
    clients.push_back(std::make_unique<TestHttpClient>(*bound));
    ASSERT_TRUE(clients.back()->connected());
  }
  for (int round = 0; round < kRounds; ++round) {
    for (int c = 0; c < kConnections; ++c) {
      ASSERT_TRUE(clients[c]->send(testing::get_request(
          "/c" + std::to_string(c) + "r" + std::to_string(round))));
    }
    for (int c = 0; c < kConnections; ++c) {
      auto response = clients[c]->read_response(5000ms);
      ASSERT_TRUE(response.has_value()) << "connection " << c;
      EXPECT_EQ(response->status, 200) << response->body;
      EXPECT_EQ(response->body, "ok");
    }
  }

  auto traces = proxy.traces();
  ASSERT_EQ(traces.size(), static_cast<size_t>(kConnections * kRounds));
  std::set<std::thread::id> request_threads;
  std::map<int, std::set<std::thread::id>> threads_per_connection;
  for (const auto& [id, trace] : traces) {
    request_threads.insert(trace.handled);
    threads_per_connection[id[2] - '0'].insert(trace.handled);
    // The caller's context is the handling thread's own, so strands made on it stay there.
    EXPECT_EQ(trace.caller_thread, trace.handled) << id;
    ASSERT_FALSE(trace.upstream.empty()) << id;
    EXPECT_EQ(trace.upstream, std::set<std::thread::id>{trace.handled}) << id;
  }
  EXPECT_EQ(request_threads.size(), 2u) << "requests were not served on both I/O threads";
  // A connection never moves between threads.
  for (const auto& [connection, threads] : threads_per_connection) {
    EXPECT_EQ(threads.size(), 1u) << "connection " << connection;
  }

  clients.clear();
  client.shutdown();
  server.reset();
  loop.stop();
  runner.join();
}

}  // namespace
}  // namespace sy::gateway
