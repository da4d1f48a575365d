#include "switchyard/backends/http_backend.h"

#include <gtest/gtest.h>

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

// A line protocol, just enough to exercise HttpBackend: a plain body is the answer text; a
// stream is lines "role", "text:<t>", "finish", "usage:<in>,<out>", "error:<msg>", "done".
class LineStreamDecoder final : public StreamDecoder {
 public:
  Status feed(std::string_view bytes, std::vector<ChatChunk>& out) override {
    pending_ += bytes;
    size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (line == "done") {
        done_ = true;
      } else if (line == "role") {
        out.push_back(ChatChunk{.role = Role::assistant});
      } else if (line.starts_with("text:")) {
        out.push_back(ChatChunk{.content = line.substr(5)});
      } else if (line == "finish") {
        out.push_back(ChatChunk{.finish_reason = FinishReason::stop});
      } else if (line.starts_with("usage:")) {
        auto comma = line.find(',');
        Usage usage{.prompt_tokens = std::stoll(line.substr(6, comma - 6)),
                    .completion_tokens = std::stoll(line.substr(comma + 1))};
        out.push_back(ChatChunk{.usage = usage});
      } else if (line.starts_with("error:")) {
        return fail(ErrorKind::upstream_error, line.substr(6));
      }
    }
    return {};
  }
  Status finish(std::vector<ChatChunk>&) override {
    if (!done_) return fail(ErrorKind::upstream_error, "stream cut before done");
    return {};
  }

 private:
  std::string pending_;
  bool done_ = false;
};

class LineTranslator final : public Translator {
 public:
  std::string_view protocol() const override { return "line"; }
  Capabilities capabilities() const override { return {}; }
  Result<HttpRequest> encode_request(const ChatRequest& request, const Endpoint& endpoint,
                                     bool stream) const override {
    if (request.model == "unencodable") return fail(ErrorKind::invalid_request, "bad model");
    return HttpRequest{.method = "POST",
                       .url = endpoint.base_url + (stream ? "/stream" : "/chat"),
                       .headers = {{"x-model", request.model}},
                       .body = request.messages.empty() ? "" : request.messages[0].text()};
  }
  Result<ChatResponse> decode_response(std::string_view body) const override {
    if (body == "garbage") return fail(ErrorKind::upstream_error, "bad body");
    ChatResponse response;
    Choice choice;
    choice.message.role = Role::assistant;
    choice.message.content.push_back(ContentPart{.text = std::string(body)});
    response.choices.push_back(choice);
    response.usage = Usage{.prompt_tokens = 1, .completion_tokens = 2};
    return response;
  }
  std::unique_ptr<StreamDecoder> make_stream_decoder() const override {
    return std::make_unique<LineStreamDecoder>();
  }
  Error decode_error(int status, const Headers&, std::string_view body) const override {
    ErrorKind kind = status == 429   ? ErrorKind::rate_limited
                     : status >= 500 ? ErrorKind::upstream_error
                                     : ErrorKind::invalid_request;
    return Error{.kind = kind, .message = std::string(body), .upstream_status = status};
  }
};

struct Outcome {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<ChatChunk> chunks;
  std::optional<Result<ChatResponse>> result;
  bool delivered = false;
  int completions = 0;
  Clock::time_point completed_at;
  std::thread::id caller = std::this_thread::get_id();
  bool ran_on_caller_thread = false;

  ChatHandlers handlers() {
    return ChatHandlers{
        .on_chunk =
            [this](const ChatChunk& chunk) {
              std::lock_guard lock(mutex);
              chunks.push_back(chunk);
            },
        .on_complete =
            [this](Result<ChatResponse> r, bool d) {
              std::lock_guard lock(mutex);
              if (std::this_thread::get_id() == caller) ran_on_caller_thread = true;
              result = std::move(r);
              delivered = d;
              completions++;
              completed_at = Clock::now();
              cv.notify_all();
            },
    };
  }
  bool wait(milliseconds limit = milliseconds(3000)) {
    return wait_until(mutex, cv, [&] { return result.has_value(); }, limit);
  }
  const Error& error() const { return result->error(); }
  std::string text() const { return result->value().choices.at(0).message.text(); }
};

ChatRequest request_saying(std::string text) {
  ChatRequest request;
  request.model = "m";
  Message message;
  message.content.push_back(ContentPart{.text = std::move(text)});
  request.messages.push_back(message);
  return request;
}

HttpBackendOptions options_for(const ScriptedServer& server) {
  HttpBackendOptions options;
  options.info.name = "line-backend";
  options.endpoint.base_url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1";
  options.timeouts = HttpTimeouts{.connect = milliseconds(1000),
                                  .first_byte = milliseconds(1000),
                                  .idle = milliseconds(1000),
                                  .total = milliseconds(3000)};
  options.retry = RetryPolicy{.max_attempts = 3,
                              .initial_backoff = milliseconds(5),
                              .max_backoff = milliseconds(20),
                              .max_retry_after = milliseconds(1000)};
  options.breaker = CircuitBreakerOptions{.failure_threshold = 100, .open_for = milliseconds(100)};
  return options;
}

struct Fixture {
  IoThreads io{2};
  ScriptedServer server;
  HttpClient client{io.io()};
  std::shared_ptr<Backend> make(HttpBackendOptions options) {
    return make_http_backend(io.io(), client, std::make_unique<LineTranslator>(),
                             std::move(options));
  }
};

TEST(HttpBackend, ReturnsDecodedResponse) {
  Fixture f;
  f.server.set_default({send(http_response(200, "hello"))});
  auto backend = f.make(options_for(f.server));
  Outcome out;
  backend->chat(request_saying("hi"), false, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.error().message;
  EXPECT_EQ(out.text(), "hello");
  EXPECT_FALSE(out.delivered);
  EXPECT_FALSE(out.ran_on_caller_thread);
  EXPECT_EQ(out.completions, 1);
  auto requests = f.server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/v1/chat");
  EXPECT_EQ(requests[0].body, "hi");
  EXPECT_EQ(find_header(requests[0].headers, "x-model"), "m");
}

TEST(HttpBackend, RetriesAfterServerErrorThenSucceeds) {
  Fixture f;
  f.server.push({send(http_response(500, "boom"))});
  f.server.set_default({send(http_response(200, "second time"))});
  auto backend = f.make(options_for(f.server));
  Outcome out;
  backend->chat(request_saying("hi"), false, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.error().message;
  EXPECT_EQ(out.text(), "second time");
  EXPECT_EQ(f.server.requests().size(), 2u);
}

TEST(HttpBackend, GivesUpAfterMaxAttempts) {
  Fixture f;
  f.server.set_default({send(http_response(503, "down"))});
  auto backend = f.make(options_for(f.server));
  Outcome out;
  backend->chat(request_saying("hi"), false, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_FALSE(out.result->has_value());
  EXPECT_EQ(out.error().kind, ErrorKind::upstream_error);
  EXPECT_EQ(out.error().upstream_status, 503);
  EXPECT_EQ(out.error().backend, "line-backend");
  EXPECT_EQ(f.server.requests().size(), 3u);
}

TEST(HttpBackend, WaitsForRetryAfterBeforeRetrying) {
  Fixture f;
  f.server.push({send(http_response(429, "slow down", {{"Retry-After-Ms", "80"}}))});
  f.server.set_default({send(http_response(200, "ok"))});
  auto backend = f.make(options_for(f.server));
  Outcome out;
  auto begin = Clock::now();
  backend->chat(request_saying("hi"), false, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.error().message;
  EXPECT_GE(out.completed_at - begin, milliseconds(80));
  EXPECT_LT(out.completed_at - begin, milliseconds(1000));
  EXPECT_EQ(f.server.requests().size(), 2u);
}

TEST(HttpBackend, FailsAtOnceWhenRetryAfterExceedsLimit) {
  Fixture f;
  f.server.set_default({send(http_response(429, "later", {{"Retry-After", "5"}}))});
  auto backend = f.make(options_for(f.server));
  Outcome out;
  auto begin = Clock::now();
  backend->chat(request_saying("hi"), false, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_FALSE(out.result->has_value());
  EXPECT_EQ(out.error().kind, ErrorKind::rate_limited);
  EXPECT_EQ(out.error().retry_after, milliseconds(5000));
  EXPECT_TRUE(out.error().fallback_allowed());
  EXPECT_LT(out.completed_at - begin, milliseconds(500));
  EXPECT_EQ(f.server.requests().size(), 1u);
}

TEST(HttpBackend, DoesNotRetryClientError) {
  Fixture f;
  f.server.set_default({send(http_response(400, "your fault"))});
  auto backend = f.make(options_for(f.server));
  Outcome out;
  backend->chat(request_saying("hi"), false, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_FALSE(out.result->has_value());
  EXPECT_EQ(out.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(out.error().message, "your fault");
  EXPECT_EQ(out.error().upstream_status, 400);
  EXPECT_EQ(f.server.requests().size(), 1u);
}

TEST(HttpBackend, FailsWithoutSendingWhenEncodingFails) {
  Fixture f;
  auto backend = f.make(options_for(f.server));
  Outcome out;
  auto request = request_saying("hi");
  request.model = "unencodable";
  backend->chat(request, false, out.handlers());
  ASSERT_TRUE(out.wait());
  EXPECT_EQ(out.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(f.server.accepted(), 0);
}

TEST(HttpBackend, OpensCircuitAfterFailuresAndClosesAfterProbe) {
  Fixture f;
  f.server.set_default({send(http_response(500, "boom"))});
  auto options = options_for(f.server);
  options.retry.max_attempts = 1;
  options.breaker = CircuitBreakerOptions{.failure_threshold = 2, .open_for = milliseconds(100)};
  auto backend = f.make(options);
  for (int i = 0; i < 2; ++i) {
    Outcome out;
    backend->chat(request_saying("hi"), false, out.handlers());
    ASSERT_TRUE(out.wait());
    EXPECT_EQ(out.error().kind, ErrorKind::upstream_error);
  }
  auto opened = Clock::now();
  Outcome rejected;
  backend->chat(request_saying("hi"), false, rejected.handlers());
  ASSERT_TRUE(rejected.wait());
  EXPECT_EQ(rejected.error().kind, ErrorKind::upstream_unavailable);
  EXPECT_EQ(rejected.error().message, "circuit open");
  EXPECT_TRUE(rejected.error().fallback_allowed());
  EXPECT_EQ(f.server.requests().size(), 2u);

  // The open period is the behaviour under test: wait it out, then one probe goes through.
  std::this_thread::sleep_until(opened + milliseconds(110));
  f.server.set_default({send(http_response(200, "back"))});
  Outcome probe;
  backend->chat(request_saying("hi"), false, probe.handlers());
  ASSERT_TRUE(probe.wait());
  ASSERT_TRUE(probe.result->has_value()) << probe.error().message;
  Outcome after;
  backend->chat(request_saying("hi"), false, after.handlers());
  ASSERT_TRUE(after.wait());
  EXPECT_TRUE(after.result->has_value());
  EXPECT_EQ(f.server.requests().size(), 4u);
}

TEST(HttpBackend, RejectsCallsOverConcurrencyLimit) {
  Fixture f;
  f.server.push({hang()});
  f.server.set_default({send(http_response(200, "ok"))});
  auto options = options_for(f.server);
  options.max_concurrency = 1;
  auto backend = f.make(options);
  Outcome first;
  auto call = backend->chat(request_saying("hi"), false, first.handlers());
  ASSERT_TRUE(f.server.wait_for_requests(1));
  Outcome second;
  backend->chat(request_saying("hi"), false, second.handlers());
  ASSERT_TRUE(second.wait());
  EXPECT_EQ(second.error().kind, ErrorKind::overloaded);
  EXPECT_FALSE(second.ran_on_caller_thread);  // even a call rejected at once
  call->cancel();
  ASSERT_TRUE(first.wait());
  EXPECT_EQ(first.error().kind, ErrorKind::cancelled);
  Outcome third;
  backend->chat(request_saying("hi"), false, third.handlers());
  ASSERT_TRUE(third.wait());
  EXPECT_TRUE(third.result->has_value());
}

TEST(HttpBackend, CancelDuringBackoffCompletesOnceWithoutRetrying) {
  Fixture f;
  f.server.push({send(http_response(503, "wait", {{"Retry-After-Ms", "900"}}))});
  f.server.set_default({send(http_response(200, "ok"))});
  auto backend = f.make(options_for(f.server));
  Outcome out;
  auto call = backend->chat(request_saying("hi"), false, out.handlers());
  ASSERT_TRUE(f.server.wait_for_requests(1));
  call->cancel();
  ASSERT_TRUE(out.wait());
  EXPECT_EQ(out.error().kind, ErrorKind::cancelled);
  EXPECT_EQ(out.completions, 1);
  EXPECT_EQ(f.server.requests().size(), 1u);
}

std::string stream_body(std::string_view lines) { return chunk(lines); }

TEST(HttpBackend, StreamsChunksAndAccumulatesUsage) {
  Fixture f;
  f.server.set_default({send(chunked_head()), send(stream_body("role\ntext:Hel")),
                        pause(milliseconds(10)), send(stream_body("\ntext:lo\nfinish\n")),
                        send(stream_body("usage:3,4\ndone\n")), send(last_chunk())});
  auto backend = f.make(options_for(f.server));
  Outcome out;
  backend->chat(request_saying("hi"), true, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.error().message;
  EXPECT_TRUE(out.delivered);
  ASSERT_EQ(out.chunks.size(), 5u);
  EXPECT_EQ(out.chunks[0].role, Role::assistant);
  EXPECT_EQ(out.chunks[1].content, "Hel");
  EXPECT_EQ(out.chunks[2].content, "lo");
  EXPECT_EQ(out.chunks[3].finish_reason, FinishReason::stop);
  EXPECT_EQ(out.text(), "Hello");
  EXPECT_EQ(out.result->value().usage, (Usage{.prompt_tokens = 3, .completion_tokens = 4}));
  EXPECT_EQ(f.server.requests().at(0).target, "/v1/stream");
}

TEST(HttpBackend, HoldsPreambleSoFailureBeforeContentIsClean) {
  Fixture f;
  f.server.set_default({send(chunked_head()), send(stream_body("role\n")), pause(milliseconds(20)),
                        close_connection()});
  auto options = options_for(f.server);
  options.retry.max_attempts = 1;
  auto backend = f.make(options);
  Outcome out;
  backend->chat(request_saying("hi"), true, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_FALSE(out.result->has_value());
  EXPECT_TRUE(out.error().retryable());
  EXPECT_FALSE(out.delivered);
  EXPECT_TRUE(out.chunks.empty());
}

TEST(HttpBackend, RetriesStreamThatFailedBeforeContent) {
  Fixture f;
  f.server.push({send(chunked_head()), send(stream_body("role\nerror:overloaded\n")),
                 send(last_chunk())});
  f.server.set_default({send(chunked_head()), send(stream_body("role\ntext:ok\nfinish\ndone\n")),
                        send(last_chunk())});
  auto backend = f.make(options_for(f.server));
  Outcome out;
  backend->chat(request_saying("hi"), true, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.error().message;
  ASSERT_EQ(out.chunks.size(), 3u);  // one role chunk: the failed attempt's was never shown
  EXPECT_EQ(out.chunks[0].role, Role::assistant);
  EXPECT_EQ(out.text(), "ok");
  EXPECT_EQ(f.server.requests().size(), 2u);
}

TEST(HttpBackend, DecodesErrorStatusOfStreamingCallAsError) {
  Fixture f;
  f.server.set_default({send(http_response(404, "no such model"))});
  auto backend = f.make(options_for(f.server));
  Outcome out;
  backend->chat(request_saying("hi"), true, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_FALSE(out.result->has_value());
  EXPECT_EQ(out.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(out.error().message, "no such model");
  EXPECT_EQ(out.error().upstream_status, 404);
  EXPECT_FALSE(out.delivered);
  EXPECT_TRUE(out.chunks.empty());
  EXPECT_EQ(f.server.requests().size(), 1u);
}

TEST(HttpBackend, FailureAfterContentReportsDeliveredAndDoesNotRetry) {
  Fixture f;
  f.server.set_default({send(chunked_head()), send(stream_body("role\ntext:partial\n")),
                        pause(milliseconds(20)), close_connection()});
  auto backend = f.make(options_for(f.server));
  Outcome out;
  backend->chat(request_saying("hi"), true, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_FALSE(out.result->has_value());
  EXPECT_TRUE(out.delivered);
  ASSERT_EQ(out.chunks.size(), 2u);
  EXPECT_EQ(out.chunks[1].content, "partial");
  EXPECT_EQ(out.error().backend, "line-backend");
  EXPECT_EQ(f.server.requests().size(), 1u);
}

}  // namespace
}  // namespace sy::backends
