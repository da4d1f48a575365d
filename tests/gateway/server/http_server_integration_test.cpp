// HttpServer against a scripted handler and a raw-socket client on 127.0.0.1, port 0.

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>

#include "test_http_client.h"
#include "test_server.h"

namespace sy::gateway {
namespace {

using namespace std::chrono_literals;
using testing::Clock;
using testing::get_request;
using testing::post_request;
using testing::RunningServer;
using testing::TestHttpClient;

TEST(HttpServer, AnswersGetAndPostRoundTrip) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(get_request("/echo?x=1")));
  auto get = client.read_response();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "GET /echo?x=1 ");
  EXPECT_EQ(get->header("server"), "switchyard");
  EXPECT_FALSE(get->header("date").empty());
  EXPECT_EQ(get->header("content-type"), "text/plain");

  ASSERT_TRUE(client.send(post_request("/echo", "{\"a\":1}")));
  auto post = client.read_response();
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 200);
  EXPECT_EQ(post->body, "POST /echo {\"a\":1}");

  auto requests = s.handler().requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].remote_address, "127.0.0.1");
  EXPECT_EQ(backends::find_header(requests[1].headers, "content-length").value_or(""), "7");
}

TEST(HttpServer, ListenReportsErrorsInsteadOfThrowing) {
  RunningServer s;
  EventLoop loop(1);
  testing::TestHandler handler;
  HttpServer second(loop.io(), testing::test_limits(), handler);
  auto taken = second.listen("127.0.0.1", s.port());
  ASSERT_FALSE(taken);
  EXPECT_NE(taken.error().message.find("bind"), std::string::npos) << taken.error().message;
  HttpServer third(loop.io(), testing::test_limits(), handler);
  auto bad = third.listen("not an address", 0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, backends::ErrorKind::invalid_request);
  HttpServer fourth(loop.io(), testing::test_limits(), handler);
  auto local = fourth.listen("localhost", 0);
  ASSERT_TRUE(local);
  EXPECT_NE(*local, 0);
}

TEST(HttpServer, ReusesConnectionWhenKeepAlive) {
  RunningServer s;
  TestHttpClient client(s.port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.send(get_request("/echo/" + std::to_string(i))));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "GET /echo/" + std::to_string(i) + " ");
    EXPECT_TRUE(response->header("connection").empty());
  }
  EXPECT_EQ(s.server().open_connections(), 1u);
}

TEST(HttpServer, ClosesAfterResponseWhenClientAsksConnectionClose) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send(get_request("/echo", "Connection: close\r\n")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(client.closed_within(2000ms));
}

TEST(HttpServer, SendsContinueBeforeBodyWhenClientExpectsIt) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                          "Expect: 100-continue\r\n\r\n"));
  auto interim = client.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.send("hello"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "POST /echo hello");
}

// Handler headers carrying CR, LF or NUL anywhere (name or value, any length) are dropped;
// clean ones of every length pass unchanged.
TEST(HttpServer, DropsHeadersThatWouldSplitTheResponse) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send(get_request("/headers")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "headers");
  EXPECT_EQ(response->header("x-short"), "ok");
  EXPECT_EQ(response->header("x-len16"), std::string(16, 'b'));
  EXPECT_EQ(response->header("x-long"), std::string(37, 'c'));
  for (const char* dropped : {"x-cr-short", "x-lf-16", "x-nul-tail", "x-lf-first", "x-injected",
                              "x-bad", "x-cr-block2"}) {
    EXPECT_EQ(response->header(dropped), "") << dropped;
  }
  // The connection still carries the next request: nothing was split or left over.
  ASSERT_TRUE(client.send(get_request("/echo")));
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "GET /echo ");
}

TEST(HttpServer, AnswersHeadWithoutBody) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send("HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n" + get_request("/echo/2")));
  // HEAD carries the GET's Content-Length but no body: read only the head, then the next one.
  ASSERT_TRUE(client.wait_for("\r\n\r\n", 2000ms));
  std::string head = client.buffered().substr(0, client.buffered().find("\r\n\r\n") + 4);
  EXPECT_NE(head.find("Content-Length: 11"), std::string::npos) << head;
  ASSERT_TRUE(client.wait_for("GET /echo/2 ", 2000ms));
  std::string rest = client.buffered().substr(head.size());
  EXPECT_TRUE(rest.starts_with("HTTP/1.1 200 OK\r\n")) << rest;
}

TEST(HttpServer, Answers500WhenHandlerThrows) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send(get_request("/throw")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  ASSERT_TRUE(client.send(get_request("/echo")));
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

TEST(HttpServer, AnswersPipelinedRequestsInOrder) {
  RunningServer s;
  TestHttpClient client(s.port());
  // The first response is held back by the test; the later ones are ready at once.
  ASSERT_TRUE(client.send(get_request("/hold") + get_request("/echo/2") + get_request("/echo/3")));
  ASSERT_TRUE(s.handler().wait_targets(3));
  EXPECT_FALSE(client.wait_for("HTTP/1.1", 100ms)) << "a later response overtook the first";
  s.handler().parked(0)->respond(200, {}, "first");
  auto first = client.read_response();
  auto second = client.read_response();
  auto third = client.read_response();
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->body, "first");
  EXPECT_EQ(second->body, "GET /echo/2 ");
  EXPECT_EQ(third->body, "GET /echo/3 ");
}

TEST(HttpServer, StopsReadingAheadAtPipelineCap) {
  auto limits = testing::test_limits();
  limits.max_pipelined = 2;
  RunningServer s(limits);
  TestHttpClient client(s.port());
  std::string burst;
  for (int i = 0; i < 4; ++i) burst += get_request("/hold/" + std::to_string(i));
  ASSERT_TRUE(client.send(burst));
  ASSERT_TRUE(s.handler().wait_parked(2));
  EXPECT_FALSE(s.handler().wait_parked(3, 100ms)) << "read past the pipeline cap";
  s.handler().parked(0)->respond(200, {}, "0");
  ASSERT_TRUE(s.handler().wait_parked(3));
  for (size_t i = 1; i < 4; ++i) {
    ASSERT_TRUE(s.handler().wait_parked(i + 1));
    s.handler().parked(i)->respond(200, {}, std::to_string(i));
  }
  for (int i = 0; i < 4; ++i) {
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, std::to_string(i));
  }
}

TEST(HttpServer, RejectsBodyOverLimitWith413AndCloses) {
  RunningServer s;
  TestHttpClient client(s.port());
  std::string request =
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" + std::string(100, 'x');
  ASSERT_TRUE(client.send(request));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(client.closed_within(2000ms));
  EXPECT_TRUE(s.handler().targets().empty());
}

TEST(HttpServer, StreamsABodyFarOverTheBufferLimitIntoTheHandlersSink) {
  RunningServer s;  // max_body_bytes 64 KiB: the sink's body is 64 times that
  TestHttpClient client(s.port());
  const size_t size = 4 * 1024 * 1024;
  std::string request = "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                        std::to_string(size) + "\r\n\r\n" + std::string(size, 'z');
  ASSERT_TRUE(client.send(request));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  // Every byte reached the sink, in pieces no larger than one read: nothing was buffered whole.
  const auto fields = response->body;
  EXPECT_TRUE(fields.starts_with(std::to_string(size) + " ")) << fields;
  EXPECT_LE(std::stoul(fields.substr(fields.find(' ') + 1)), 64u * 1024) << fields;
  EXPECT_TRUE(fields.ends_with(" 0")) << "the buffered body stays empty: " << fields;
  // The connection stays usable.
  ASSERT_TRUE(client.send(post_request("/echo", "after")));
  auto echo = client.read_response();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->body, "POST /echo after");
}

TEST(HttpServer, StreamsAChunkedBodyIntoTheSink) {
  RunningServer s;
  TestHttpClient client(s.port());
  std::string big(200 * 1024, 'y');
  std::string request = "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 2; ++i) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", big.size());
    request += size + big + "\r\n";
  }
  request += "0\r\n\r\n";
  ASSERT_TRUE(client.send(request));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(response->body.starts_with(std::to_string(2 * big.size()) + " ")) << response->body;
}

TEST(HttpServer, ASinkRefusingThePieceAnswersAtOnceAndCloses) {
  RunningServer s;
  TestHttpClient client(s.port());
  // Declares 10 MB but the sink takes 100 KB: the answer comes without the rest of the body.
  std::string request =
      "POST /sink?max=100000 HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n" +
      std::string(300 * 1024, 'x');
  client.send(request);
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->body, "sink full");
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(client.closed_within(2000ms));
}

// The handler gets the head's fields (lower-cased, in order), then a chunked body's trailer
// fields, and the whole body: the same request whether or not a body was announced.
TEST(HttpServer, HandsOverHeadTrailerFieldsAndBodyOfAChunkedRequest) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nX-First: 1\r\nTransfer-Encoding: chunked\r\n"
      "Trailer: X-Sum\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "POST /echo abcde");
  ASSERT_TRUE(client.send("GET /echo HTTP/1.1\r\nHost: t\r\nX-Second: 2\r\n\r\n"));
  ASSERT_TRUE(client.read_response());
  auto requests = s.handler().requests();
  ASSERT_EQ(requests.size(), 2u);
  std::vector<std::string> names;
  for (const auto& [name, value] : requests[0].headers) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"host", "x-first", "transfer-encoding", "trailer",
                                             "x-sum"}));
  EXPECT_EQ(backends::find_header(requests[0].headers, "x-sum").value_or(""), "5");
  EXPECT_EQ(requests[0].remote_address, "127.0.0.1");
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(requests[1].body, "");
  EXPECT_EQ(backends::find_header(requests[1].headers, "x-first"), std::nullopt);
  EXPECT_EQ(backends::find_header(requests[1].headers, "x-second").value_or(""), "2");
}

TEST(HttpServer, RejectsChunkedBodyOverLimitWith413) {
  RunningServer s;
  TestHttpClient client(s.port());
  std::string big(70 * 1024, 'y');
  std::string request = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", big.size());
  request += size + big + "\r\n0\r\n\r\n";
  client.send(request);  // the server may close before it has all of it
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
}

TEST(HttpServer, RejectsGarbageWith400) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send("THIS IS NOT HTTP\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_TRUE(client.closed_within(2000ms));
}

TEST(HttpServer, ClosesWithoutResponseWhenHeadersExceedLimit) {
  RunningServer s;
  TestHttpClient client(s.port());
  std::string request = "GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(8192, 'a') +
                        "\r\n\r\n";
  client.send(request);
  EXPECT_TRUE(client.closed_within(2000ms));
  EXPECT_EQ(client.buffered().find("HTTP/1.1"), std::string::npos);
  EXPECT_TRUE(s.handler().targets().empty());
}

TEST(HttpServer, ClosesSlowlorisWithinHeaderDeadline) {
  RunningServer s;  // header_timeout 200 ms
  TestHttpClient client(s.port());
  std::string request = get_request("/echo", "X-Slow: " + std::string(200, 'z') + "\r\n");
  auto start = Clock::now();
  bool closed = false;
  // One byte every 20 ms: the whole header would take ~5 s, far past the deadline.
  for (size_t i = 0; i < request.size() && Clock::now() - start < 3s; ++i) {
    if (!client.send(request.substr(i, 1)) || client.closed_within(20ms)) {
      closed = true;
      break;
    }
  }
  auto elapsed = Clock::now() - start;
  EXPECT_TRUE(closed || client.closed_within(500ms));
  EXPECT_LT(elapsed, 200ms + 600ms);
  EXPECT_TRUE(s.handler().targets().empty());
}

TEST(HttpServer, ClosesWhenBodyStallsPastBodyTimeout) {
  RunningServer s;  // body_timeout 200 ms
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123"));
  auto start = Clock::now();
  EXPECT_TRUE(client.closed_within(2000ms));
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 800ms);
  EXPECT_TRUE(s.handler().targets().empty());
}

TEST(HttpServer, ClosesConnectionThatNeverSendsARequest) {
  RunningServer s;
  TestHttpClient client(s.port());
  auto start = Clock::now();
  EXPECT_TRUE(client.closed_within(2000ms));
  EXPECT_GE(Clock::now() - start, 150ms);
}

TEST(HttpServer, ClosesIdleKeepAliveConnectionAfterIdleTimeout) {
  RunningServer s;  // idle_timeout 300 ms
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send(get_request("/echo")));
  ASSERT_TRUE(client.read_response());
  auto start = Clock::now();
  EXPECT_TRUE(client.closed_within(2000ms));
  EXPECT_GE(Clock::now() - start, 250ms);
  EXPECT_TRUE(s.wait_connections(0));
}

TEST(HttpServer, StreamsChunksIncrementallyInOrder) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send(get_request("/stream")));
  ASSERT_TRUE(s.handler().wait_parked(1));
  auto writer = s.handler().parked(0);
  ASSERT_TRUE(client.wait_for("\r\n\r\n", 2000ms));
  EXPECT_NE(client.buffered().find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(client.buffered().find("content-type: text/event-stream"), std::string::npos);
  for (int i = 0; i < 3; ++i) {
    std::string event = "data: " + std::to_string(i) + "\n\n";
    writer->write(event);
    // Each event must reach the client before the next is even produced.
    ASSERT_TRUE(client.wait_for(event, 2000ms)) << "event " << i << " was not flushed";
  }
  writer->finish();
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  // The connection stays usable after a stream.
  ASSERT_TRUE(client.send(get_request("/echo")));
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "GET /echo ");
}

TEST(HttpServer, QueuesStreamOutputInOrderWhileClientReadsSlowly) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send(get_request("/stream")));
  ASSERT_TRUE(s.handler().wait_parked(1));
  auto writer = s.handler().parked(0);
  // ~3 MiB while the client reads nothing: far more than the socket buffers hold.
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    std::string event = "data: " + std::to_string(i) + " " + std::string(16 * 1024, 'p') + "\n\n";
    expected += event;
    writer->write(std::move(event));
  }
  writer->finish();
  auto response = client.read_response(5000ms);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body.size(), expected.size());
  EXPECT_TRUE(response->body == expected) << "stream bytes reordered or lost";
}

TEST(HttpServer, CancelsStreamWhenClientStopsReadingPastIdleTimeout) {
  RunningServer s;  // idle_timeout 300 ms
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send(get_request("/stream")));
  ASSERT_TRUE(s.handler().wait_parked(1));
  auto writer = s.handler().parked(0);
  // 32 MiB that the client never reads: more than any socket buffer absorbs.
  std::string block(1024 * 1024, 'q');
  for (int i = 0; i < 32; ++i) writer->write(block);
  auto start = Clock::now();
  ASSERT_TRUE(s.handler().wait_cancelled(1));
  EXPECT_LT(Clock::now() - start, 1500ms);
  EXPECT_TRUE(s.wait_connections(0));
}

TEST(HttpServer, StreamsToHttp10ClientWithoutChunkingAndCloses) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  ASSERT_TRUE(s.handler().wait_parked(1));
  auto writer = s.handler().parked(0);
  writer->write("data: a\n\n");
  writer->finish();
  ASSERT_TRUE(client.closed_within(2000ms));
  const std::string& all = client.buffered();
  EXPECT_EQ(all.find("Transfer-Encoding"), std::string::npos) << all;
  EXPECT_NE(all.find("Connection: close\r\n"), std::string::npos) << all;
  EXPECT_TRUE(all.ends_with("\r\n\r\ndata: a\n\n")) << all;
}

TEST(HttpServer, FiresOnCancelOnceWhenClientDisconnectsMidStream) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send(get_request("/stream")));
  ASSERT_TRUE(s.handler().wait_parked(1));
  auto writer = s.handler().parked(0);
  writer->write("data: 1\n\n");
  ASSERT_TRUE(client.wait_for("data: 1", 2000ms));
  client.close();
  ASSERT_TRUE(s.handler().wait_cancelled(1));
  // Later writes are dropped quietly; a late registration runs at once.
  writer->write("data: 2\n\n");
  writer->finish();
  std::promise<void> late;
  writer->on_cancel([&] { late.set_value(); });
  EXPECT_EQ(late.get_future().wait_for(2s), std::future_status::ready);
  EXPECT_EQ(s.handler().cancelled(), 1);
  EXPECT_TRUE(s.wait_connections(0));
}

TEST(HttpServer, EnforcesMaxConnections) {
  auto limits = testing::test_limits();
  limits.max_connections = 2;
  limits.idle_timeout = 5000ms;
  RunningServer s(limits);
  TestHttpClient a(s.port());
  TestHttpClient b(s.port());
  for (auto* client : {&a, &b}) {
    ASSERT_TRUE(client->send(get_request("/echo")));
    ASSERT_TRUE(client->read_response());
  }
  TestHttpClient c(s.port());
  EXPECT_TRUE(c.closed_within(2000ms));
  EXPECT_EQ(s.server().open_connections(), 2u);
  ASSERT_TRUE(a.send(get_request("/echo")));
  EXPECT_TRUE(a.read_response());
  // A slot frees up when a connection goes.
  b.close();
  ASSERT_TRUE(s.wait_connections(1));
  TestHttpClient d(s.port());
  ASSERT_TRUE(d.send(get_request("/echo")));
  EXPECT_TRUE(d.read_response());
}

TEST(HttpServer, DrainFinishesInFlightStreamAndRejectsNewRequests) {
  auto limits = testing::test_limits();
  limits.max_pipelined = 1;  // keeps the second request unread until the stream is done
  limits.idle_timeout = 5000ms;
  RunningServer s(limits);
  TestHttpClient idle(s.port());
  ASSERT_TRUE(idle.send(get_request("/echo")));
  ASSERT_TRUE(idle.read_response());

  TestHttpClient busy(s.port());
  ASSERT_TRUE(busy.send(get_request("/stream") + get_request("/echo/late")));
  ASSERT_TRUE(s.handler().wait_parked(1));
  ASSERT_TRUE(busy.wait_for("\r\n\r\n", 2000ms));

  std::promise<void> drained;
  s.server().drain(2000ms, [&] { drained.set_value(); });
  EXPECT_TRUE(idle.closed_within(2000ms)) << "idle keep-alive connection not closed";
  TestHttpClient refused(s.port());
  EXPECT_TRUE(!refused.connected() || refused.closed_within(2000ms));

  auto writer = s.handler().parked(0);
  writer->write("data: last\n\n");
  writer->finish();
  auto stream = busy.read_response();
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->body, "data: last\n\n");
  auto late = busy.read_response();
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 503);
  EXPECT_EQ(late->header("connection"), "close");
  EXPECT_TRUE(busy.closed_within(2000ms));
  auto done = drained.get_future();
  EXPECT_EQ(done.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(s.handler().cancelled(), 0);
  EXPECT_EQ(s.server().open_connections(), 0u);
}

TEST(HttpServer, DrainDeadlineForcesClose) {
  RunningServer s;
  TestHttpClient client(s.port());
  ASSERT_TRUE(client.send(get_request("/stream")));
  ASSERT_TRUE(s.handler().wait_parked(1));
  std::atomic<int> done_calls{0};
  std::promise<void> drained;
  auto start = Clock::now();
  s.server().drain(100ms, [&] {
    if (++done_calls == 1) drained.set_value();
  });
  auto done = drained.get_future();
  ASSERT_EQ(done.wait_for(2s), std::future_status::ready);
  EXPECT_GE(Clock::now() - start, 90ms);
  EXPECT_TRUE(client.closed_within(2000ms));
  EXPECT_TRUE(s.handler().wait_cancelled(1));
  EXPECT_EQ(done_calls.load(), 1);
}

TEST(HttpServer, DrainWithNoConnectionsCallsDoneAtOnce) {
  RunningServer s;
  std::promise<void> drained;
  s.server().drain(5000ms, [&] { drained.set_value(); });
  EXPECT_EQ(drained.get_future().wait_for(1s), std::future_status::ready);
}

}  // namespace
}  // namespace sy::gateway
