#include "switchyard/backends/http_client.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "io_threads.h"
#include "scripted_server.h"

namespace sy::backends {
namespace {

using namespace testing;  // NOLINT: the test helpers
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct Recorder {
  std::mutex mutex;
  std::condition_variable cv;
  int status = 0;
  Headers headers;
  std::string body;
  int pieces = 0;
  int head_calls = 0;
  int complete_calls = 0;
  bool completed_on_caller_thread = false;
  std::thread::id caller = std::this_thread::get_id();
  std::optional<Status> result;

  HttpHandlers handlers() {
    return HttpHandlers{
        .on_head =
            [this](int s, const Headers& h) {
              std::lock_guard lock(mutex);
              status = s;
              headers = h;
              head_calls++;
            },
        .on_body =
            [this](std::string_view bytes) {
              std::lock_guard lock(mutex);
              body += bytes;
              pieces++;
              cv.notify_all();
            },
        .on_complete =
            [this](Status r) {
              std::lock_guard lock(mutex);
              if (std::this_thread::get_id() == caller) completed_on_caller_thread = true;
              result = std::move(r);
              complete_calls++;
              cv.notify_all();
            },
    };
  }
  bool wait_done(milliseconds limit = milliseconds(3000)) {
    return wait_until(mutex, cv, [&] { return result.has_value(); }, limit);
  }
  ErrorKind error_kind() {
    std::lock_guard lock(mutex);
    return result && !result->has_value() ? result->error().kind : ErrorKind::internal;
  }
  std::string error_message() {
    std::lock_guard lock(mutex);
    return result && !result->has_value() ? result->error().message : "";
  }
};

HttpTimeouts fast_timeouts() {
  return HttpTimeouts{.connect = milliseconds(1000),
                      .first_byte = milliseconds(1000),
                      .idle = milliseconds(1000),
                      .total = milliseconds(3000)};
}

HttpRequest post(const std::string& url, std::string body = "{}") {
  return HttpRequest{.method = "POST", .url = url, .headers = {}, .body = std::move(body)};
}

// Every test runs against both transports of plain http://: the built-in HTTP/1.1 client and
// libcurl.
class HttpClientTest : public ::testing::TestWithParam<bool> {
 protected:
  HttpClientOptions options(HttpClientOptions base = {}) const {
    base.builtin_http1 = GetParam();
    return base;
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, HttpClientTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Builtin" : "Curl";
                         });

TEST_P(HttpClientTest, PostRoundTripCarriesHeadersAndBody) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send(http_response(200, R"({"ok":true})", {{"X-Reply", "Yes"}}))});
  HttpClient client(io.io(), options());
  Recorder rec;
  HttpRequest request = post(server.url("/v1/chat?x=1"), "hello body");
  request.headers = {{"content-type", "application/json"}, {"x-custom", "abc"}};
  client.start(request, fast_timeouts(), rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  ASSERT_TRUE(rec.result->has_value()) << rec.error_message();
  EXPECT_EQ(rec.status, 200);
  EXPECT_EQ(find_header(rec.headers, "x-reply"), "Yes");
  EXPECT_EQ(find_header(rec.headers, "content-length"), "11");
  EXPECT_EQ(rec.body, R"({"ok":true})");
  EXPECT_EQ(rec.head_calls, 1);
  EXPECT_EQ(rec.complete_calls, 1);
  EXPECT_FALSE(rec.completed_on_caller_thread);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/v1/chat?x=1");
  EXPECT_EQ(requests[0].body, "hello body");
  EXPECT_EQ(find_header(requests[0].headers, "x-custom"), "abc");
  EXPECT_EQ(find_header(requests[0].headers, "content-type"), "application/json");
  EXPECT_EQ(find_header(requests[0].headers, "expect"), std::nullopt);
}

// More than the socket takes at once: the rest of the request goes out asynchronously, head
// and body in order and whole.
TEST_P(HttpClientTest, SendsABodyLargerThanTheSocketBufferWhole) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send(http_response(200, "ok"))});
  HttpClient client(io.io(), options());
  Recorder rec;
  std::string big(8 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  client.start(post(server.url("/big"), big), fast_timeouts(), rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  ASSERT_TRUE(rec.result->has_value()) << rec.error_message();
  EXPECT_EQ(rec.body, "ok");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/big");
  EXPECT_EQ(requests[0].body.size(), big.size());
  EXPECT_TRUE(requests[0].body == big);
}

TEST_P(HttpClientTest, ReportsFinalHeadAfterInterimContinue) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send("HTTP/1.1 100 Continue\r\n\r\n"), send(http_response(201, "made"))});
  HttpClient client(io.io(), options());
  Recorder rec;
  client.start(post(server.url()), fast_timeouts(), rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  ASSERT_TRUE(rec.result->has_value()) << rec.error_message();
  EXPECT_EQ(rec.status, 201);
  EXPECT_EQ(rec.head_calls, 1);
  EXPECT_EQ(rec.body, "made");
}

TEST_P(HttpClientTest, DeliversChunkedStreamInPieces) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send(chunked_head(200, {{"Content-Type", "text/event-stream"}})),
                      send(chunk("one")), pause(milliseconds(30)), send(chunk("two")),
                      pause(milliseconds(30)), send(chunk("three")), send(last_chunk())});
  HttpClient client(io.io(), options());
  Recorder rec;
  client.start(post(server.url()), fast_timeouts(), rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  ASSERT_TRUE(rec.result->has_value()) << rec.error_message();
  EXPECT_EQ(rec.body, "onetwothree");
  EXPECT_GE(rec.pieces, 3);
  EXPECT_EQ(find_header(rec.headers, "content-type"), "text/event-stream");
}

TEST_P(HttpClientTest, FailsAsUnavailableWhenConnectionRefused) {
  IoThreads io(1);
  HttpClient client(io.io(), options());
  Recorder rec;
  client.start(post("http://127.0.0.1:" + std::to_string(unused_port()) + "/"), fast_timeouts(),
               rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  EXPECT_EQ(rec.error_kind(), ErrorKind::upstream_unavailable);
  EXPECT_EQ(rec.head_calls, 0);
}

TEST_P(HttpClientTest, TimesOutWhenNoHeadArrivesInTime) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({hang()});
  HttpClient client(io.io(), options());
  Recorder rec;
  auto timeouts = fast_timeouts();
  timeouts.first_byte = milliseconds(100);
  auto begin = Clock::now();
  client.start(post(server.url()), timeouts, rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  EXPECT_EQ(rec.error_kind(), ErrorKind::upstream_timeout);
  EXPECT_NE(rec.error_message().find("first byte"), std::string::npos) << rec.error_message();
  EXPECT_GE(Clock::now() - begin, milliseconds(100));
  EXPECT_LT(Clock::now() - begin, milliseconds(900));
}

TEST_P(HttpClientTest, TimesOutWhenBodyGoesIdle) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send(chunked_head()), send(chunk("first")), hang()});
  HttpClient client(io.io(), options());
  Recorder rec;
  auto timeouts = fast_timeouts();
  timeouts.idle = milliseconds(120);
  client.start(post(server.url()), timeouts, rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  EXPECT_EQ(rec.error_kind(), ErrorKind::upstream_timeout);
  EXPECT_NE(rec.error_message().find("idle"), std::string::npos) << rec.error_message();
  EXPECT_EQ(rec.head_calls, 1);
  EXPECT_EQ(rec.body, "first");
}

TEST_P(HttpClientTest, TimesOutOnTotalDeadlineWhileDataStillFlows) {
  IoThreads io(1);
  ScriptedServer server;
  Script script{send(chunked_head())};
  for (int i = 0; i < 30; ++i) {
    script.push_back(send(chunk("x")));
    script.push_back(pause(milliseconds(30)));
  }
  script.push_back(send(last_chunk()));
  server.set_default(script);
  HttpClient client(io.io(), options());
  Recorder rec;
  auto timeouts = fast_timeouts();
  timeouts.idle = milliseconds(200);
  timeouts.total = milliseconds(250);
  auto begin = Clock::now();
  client.start(post(server.url()), timeouts, rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  EXPECT_EQ(rec.error_kind(), ErrorKind::upstream_timeout);
  EXPECT_NE(rec.error_message().find("total"), std::string::npos) << rec.error_message();
  EXPECT_LT(Clock::now() - begin, milliseconds(800));
  // Data kept flowing (more than one 30 ms-spaced chunk arrived), so no idle timeout fired.
  // Counted in bytes: on a loaded machine several chunks can arrive in one read.
  EXPECT_GE(rec.body.size(), 2u);
}

TEST_P(HttpClientTest, FailsAsUnavailableWhenResetBeforeHead) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({reset()});
  HttpClient client(io.io(), options());
  Recorder rec;
  client.start(post(server.url()), fast_timeouts(), rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  EXPECT_EQ(rec.error_kind(), ErrorKind::upstream_unavailable) << rec.error_message();
  EXPECT_EQ(rec.head_calls, 0);
}

TEST_P(HttpClientTest, FailsAsUpstreamErrorWhenResetAfterHead) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default(
      {send(response_head(200, {{"Content-Length", "100"}}) + "partial"), pause(milliseconds(20)),
       reset()});
  HttpClient client(io.io(), options());
  Recorder rec;
  client.start(post(server.url()), fast_timeouts(), rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  EXPECT_EQ(rec.error_kind(), ErrorKind::upstream_error) << rec.error_message();
  EXPECT_EQ(rec.head_calls, 1);
}

TEST_P(HttpClientTest, FailsWhenStreamEndsBeforeLastChunk) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send(chunked_head()), send(chunk("half")), close_connection()});
  HttpClient client(io.io(), options());
  Recorder rec;
  client.start(post(server.url()), fast_timeouts(), rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  EXPECT_EQ(rec.error_kind(), ErrorKind::upstream_error) << rec.error_message();
}

TEST_P(HttpClientTest, FailsWhenResponseExceedsLimit) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send(http_response(200, std::string(5000, 'a')))});
  HttpClient client(io.io(), options({.max_response_bytes = 1000}));
  Recorder rec;
  client.start(post(server.url()), fast_timeouts(), rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  EXPECT_EQ(rec.error_kind(), ErrorKind::upstream_error);
  EXPECT_EQ(rec.error_message(), "response exceeds 1000 bytes");
  EXPECT_LE(rec.body.size(), 1000u);
}

TEST_P(HttpClientTest, CancelMidStreamCompletesOnceAsCancelled) {
  IoThreads io(2);
  ScriptedServer server;
  server.set_default({send(chunked_head()), send(chunk("first")), hang()});
  HttpClient client(io.io(), options());
  Recorder rec;
  auto call = client.start(post(server.url()), fast_timeouts(), rec.handlers());
  ASSERT_TRUE(wait_until(rec.mutex, rec.cv, [&] { return rec.pieces > 0; }));
  call->cancel();
  call->cancel();
  ASSERT_TRUE(rec.wait_done());
  EXPECT_EQ(rec.error_kind(), ErrorKind::cancelled);
  EXPECT_EQ(rec.complete_calls, 1);
}

TEST_P(HttpClientTest, ShutdownAbortsCallsInFlight) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({hang()});
  HttpClient client(io.io(), options());
  Recorder a;
  Recorder b;
  client.start(post(server.url()), fast_timeouts(), a.handlers());
  client.start(post(server.url()), fast_timeouts(), b.handlers());
  client.shutdown();
  ASSERT_TRUE(a.wait_done());
  ASSERT_TRUE(b.wait_done());
  EXPECT_EQ(a.error_kind(), ErrorKind::cancelled);
  EXPECT_EQ(b.error_kind(), ErrorKind::cancelled);
}

TEST_P(HttpClientTest, CompletesFiftyConcurrentCallsOnTwoThreads) {
  IoThreads io(2);
  ScriptedServer server;
  server.set_default({pause(milliseconds(20)), send(http_response(200, "ok"))});
  HttpClient client(io.io(), options());
  constexpr int kCalls = 50;
  std::mutex mutex;
  std::condition_variable cv;
  int ok = 0;
  int done = 0;
  for (int i = 0; i < kCalls; ++i) {
    auto body = std::make_shared<std::string>();
    client.start(post(server.url(), "call " + std::to_string(i)), fast_timeouts(),
                 HttpHandlers{.on_head = {},
                              .on_body = [body](std::string_view b) { *body += b; },
                              .on_complete =
                                  [&, body](Status r) {
                                    std::lock_guard lock(mutex);
                                    if (r && *body == "ok") ok++;
                                    done++;
                                    cv.notify_all();
                                  }});
  }
  ASSERT_TRUE(wait_until(mutex, cv, [&] { return done == kCalls; }));
  EXPECT_EQ(ok, kCalls);
  EXPECT_EQ(server.requests().size(), static_cast<size_t>(kCalls));
}

TEST_P(HttpClientTest, ReusesOneConnectionForSequentialCalls) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send(http_response(200, "ok"))});
  HttpClient client(io.io(), options());
  for (int i = 0; i < 3; ++i) {
    Recorder rec;
    client.start(post(server.url()), fast_timeouts(), rec.handlers());
    ASSERT_TRUE(rec.wait_done());
    ASSERT_TRUE(rec.result->has_value()) << rec.error_message();
  }
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(server.requests().size(), 3u);
}

// Easy handles are recycled between calls: nothing of one call (method, headers, body) may
// leak into the next one made with the recycled handle.
TEST_P(HttpClientTest, RecycledTransferCarriesNothingOfThePreviousCall) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send(http_response(200, "ok"))});
  HttpClient client(io.io(), options());
  HttpRequest first{.method = "PUT",
                    .url = server.url("/first"),
                    .headers = {{"x-only-first", "1"}},
                    .body = "first body"};
  HttpRequest second{.method = "GET", .url = server.url("/second"), .headers = {}, .body = ""};
  for (const HttpRequest& request : {first, second}) {
    Recorder rec;
    client.start(request, fast_timeouts(), rec.handlers());
    ASSERT_TRUE(rec.wait_done());
    ASSERT_TRUE(rec.result->has_value()) << rec.error_message();
  }
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].body, "first body");
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(requests[1].target, "/second");
  EXPECT_EQ(requests[1].body, "");
  EXPECT_EQ(find_header(requests[1].headers, "x-only-first"), std::nullopt);
  EXPECT_EQ(server.accepted(), 1);  // the recycled handle still reuses the connection
}

// A server may close a kept-alive connection between calls: the next call notices before it
// sends anything and goes out on a fresh connection, without an error.
TEST_P(HttpClientTest, ReplacesKeptAliveConnectionTheServerClosed) {
  IoThreads io(1);
  ScriptedServer server;
  server.push({send(http_response(200, "first")), close_connection()});
  server.set_default({send(http_response(200, "second"))});
  HttpClient client(io.io(), options());
  Recorder first;
  client.start(post(server.url()), fast_timeouts(), first.handlers());
  ASSERT_TRUE(first.wait_done());
  ASSERT_TRUE(first.result->has_value()) << first.error_message();
  ASSERT_TRUE(server.wait_for_closed(1));
  Recorder second;
  client.start(post(server.url()), fast_timeouts(), second.handlers());
  ASSERT_TRUE(second.wait_done());
  ASSERT_TRUE(second.result->has_value()) << second.error_message();
  EXPECT_EQ(second.body, "second");
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(server.requests().size(), 2u);  // nothing was sent on the dead connection
}

TEST_P(HttpClientTest, DeliversBodyDelimitedByTheClose) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send(response_head(200, {{"Connection", "close"}})), send("until "),
                      pause(milliseconds(20)), send("the end"), close_connection()});
  HttpClient client(io.io(), options());
  Recorder rec;
  client.start(post(server.url()), fast_timeouts(), rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  ASSERT_TRUE(rec.result->has_value()) << rec.error_message();
  EXPECT_EQ(rec.body, "until the end");
}

TEST_P(HttpClientTest, ParsesAResponseSplitMidLineAndMidChunk) {
  IoThreads io(1);
  ScriptedServer server;
  std::string wire = chunked_head(200, {{"X-Split", "value"}}) + chunk("hello world") +
                     last_chunk();
  Script script;
  for (size_t at = 0; at < wire.size(); at += 7) {
    script.push_back(send(wire.substr(at, 7)));
    script.push_back(pause(milliseconds(2)));
  }
  server.set_default(script);
  HttpClient client(io.io(), options());
  Recorder rec;
  client.start(post(server.url()), fast_timeouts(), rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  ASSERT_TRUE(rec.result->has_value()) << rec.error_message();
  EXPECT_EQ(rec.body, "hello world");
  EXPECT_EQ(find_header(rec.headers, "x-split"), "value");
}

TEST_P(HttpClientTest, QueuesCallsAtTheConnectionLimitAndReusesTheOne) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({pause(milliseconds(10)), send(http_response(200, "ok"))});
  HttpClient client(io.io(), options({.max_connections_per_host = 1}));
  std::vector<std::unique_ptr<Recorder>> recs;
  for (int i = 0; i < 4; ++i) {
    recs.push_back(std::make_unique<Recorder>());
    client.start(post(server.url()), fast_timeouts(), recs.back()->handlers());
  }
  for (auto& rec : recs) {
    ASSERT_TRUE(rec->wait_done());
    ASSERT_TRUE(rec->result->has_value()) << rec->error_message();
    EXPECT_EQ(rec->body, "ok");
  }
  EXPECT_EQ(server.accepted(), 1);
}

TEST_P(HttpClientTest, SendsHostAndContentLengthOfItsOwn) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send(http_response(200, "ok"))});
  HttpClient client(io.io(), options());
  Recorder rec;
  HttpRequest request = post(server.url("/v1/x"), "12345");
  request.headers = {{"x-empty", ""}};
  // The built-in client owns the framing; curl would send a caller's Content-Length as given.
  if (GetParam()) request.headers.emplace_back("content-length", "999");
  client.start(request, fast_timeouts(), rec.handlers());
  ASSERT_TRUE(rec.wait_done());
  ASSERT_TRUE(rec.result->has_value()) << rec.error_message();
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(find_header(requests[0].headers, "host"),
            "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(find_header(requests[0].headers, "content-length"), "5");
  EXPECT_EQ(find_header(requests[0].headers, "x-empty"), "");
  EXPECT_EQ(requests[0].body, "12345");
}

// A response cut while the client waits in the connection queue of its host must not strand
// the queued call: it gets the slot the failed one frees.
TEST_P(HttpClientTest, QueuedCallProceedsWhenTheCallAheadFails) {
  IoThreads io(1);
  ScriptedServer server;
  server.push({reset()});
  server.set_default({send(http_response(200, "ok"))});
  HttpClient client(io.io(), options({.max_connections_per_host = 1}));
  Recorder first;
  Recorder second;
  client.start(post(server.url()), fast_timeouts(), first.handlers());
  client.start(post(server.url()), fast_timeouts(), second.handlers());
  ASSERT_TRUE(first.wait_done());
  ASSERT_TRUE(second.wait_done());
  EXPECT_EQ(first.error_kind(), ErrorKind::upstream_unavailable);
  ASSERT_TRUE(second.result->has_value()) << second.error_message();
  EXPECT_EQ(second.body, "ok");
}

// start() called on the client's own loop thread may begin the call at once (no trip through
// the event loop), but a handler must still never run inside start(): not for a call that
// fails at once (an unusable URL), not for one that succeeds.
TEST_P(HttpClientTest, StartOnTheLoopThreadNeverCallsBackInsideStart) {
  IoThreads io(1);
  ScriptedServer server;
  server.set_default({send(http_response(200, "ok"))});
  HttpClient client(io.io(), options());
  std::atomic<bool> inside_start{false};
  std::atomic<int> called_inside{0};
  auto watched = [&](Recorder& rec) {
    HttpHandlers handlers = rec.handlers();
    handlers.on_head = [&, inner = handlers.on_head](int status, const Headers& headers) {
      if (inside_start) called_inside++;
      inner(status, headers);
    };
    handlers.on_complete = [&, inner = handlers.on_complete](Status result) {
      if (inside_start) called_inside++;
      inner(std::move(result));
    };
    return handlers;
  };
  Recorder good;
  Recorder bad;
  boost::asio::post(io.io(), [&] {
    inside_start = true;
    client.start(post(server.url()), fast_timeouts(), watched(good));
    client.start(post("http://127.0.0.1:99999/v1"), fast_timeouts(), watched(bad));
    inside_start = false;
  });
  ASSERT_TRUE(good.wait_done());
  ASSERT_TRUE(bad.wait_done());
  EXPECT_EQ(called_inside.load(), 0);
  ASSERT_TRUE(good.result->has_value()) << good.error_message();
  EXPECT_EQ(good.body, "ok");
  EXPECT_FALSE(bad.result->has_value());
}

// A caller that reads no 2xx headers may be handed none (the built-in client skips copying
// them); an error answer's headers always arrive.
TEST_P(HttpClientTest, ErrorAnswersKeepTheirHeadersWhenSuccessHeadersAreNotWanted) {
  IoThreads io(1);
  ScriptedServer server;
  server.push({send(http_response(200, "fine", {{"X-Seen", "ok"}}))});
  server.push({send(http_response(503, "busy", {{"Retry-After", "7"}}))});
  HttpClient client(io.io(), options());
  Recorder ok;
  HttpHandlers ok_handlers = ok.handlers();
  ok_handlers.want_success_headers = false;
  client.start(post(server.url()), fast_timeouts(), std::move(ok_handlers));
  ASSERT_TRUE(ok.wait_done());
  ASSERT_TRUE(ok.result->has_value()) << ok.error_message();
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "fine");
  if (GetParam()) {
    EXPECT_EQ(find_header(ok.headers, "x-seen"), std::nullopt);
  }
  Recorder failed;
  HttpHandlers failed_handlers = failed.handlers();
  failed_handlers.want_success_headers = false;
  client.start(post(server.url()), fast_timeouts(), std::move(failed_handlers));
  ASSERT_TRUE(failed.wait_done());
  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(find_header(failed.headers, "retry-after"), std::optional<std::string_view>("7"));
}

}  // namespace
}  // namespace sy::backends
