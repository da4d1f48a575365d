// The native pass-through of HttpBackend (NativeRequest): the client's body goes out unchanged
// but for `model`, and the vendor's answer comes back byte for byte — buffered as
// native_body, streamed as whole events riding on chunks, thinking events included — while
// the preamble is still held until content, so a failure before it stays retryable.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "io_threads.h"
#include "scripted_server.h"
#include "switchyard/backends/http_backend.h"
#include "switchyard/backends/translators.h"

namespace sy::backends {
namespace {

using namespace testing;  // NOLINT: the test helpers
using std::chrono::milliseconds;

// One Anthropic stream with a thinking block (no ChatChunk of its own) before the text.
constexpr char kStream[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
    "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-x\",\"stop_reason\":null,"
    "\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n"
    "event: ping\ndata: {\"type\":\"ping\"}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
    "\"thinking\",\"thinking\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\","
    "\"thinking\":\"Hmm.\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\","
    "\"signature\":\"c2ln\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hi!\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
    "\"usage\":{\"output_tokens\":9}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

struct Outcome {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<ChatChunk> chunks;
  std::optional<Result<ChatResponse>> result;

  ChatHandlers handlers() {
    return ChatHandlers{.on_chunk =
                            [this](const ChatChunk& chunk) {
                              std::lock_guard lock(mutex);
                              chunks.push_back(chunk);
                            },
                        .on_complete =
                            [this](Result<ChatResponse> r, bool) {
                              std::lock_guard lock(mutex);
                              result = std::move(r);
                              cv.notify_all();
                            }};
  }
  bool wait() {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, milliseconds(3000), [&] { return result.has_value(); });
  }
};

ChatRequest native_request(std::string body, bool stream) {
  ChatRequest request;
  request.surface = ApiSurface::messages;
  request.model = "claude-x";
  request.stream = stream;
  request.messages.push_back(Message{.content = {ContentPart{.text = "Hi"}}});
  auto native = std::make_shared<NativeRequest>();
  native->protocol = "anthropic";
  native->body = std::move(body);
  native->headers = {{"anthropic-version", "2099-01-01"}, {"anthropic-beta", "b1"}};
  request.native = std::move(native);
  return request;
}

struct Fixture {
  IoThreads io{2};
  ScriptedServer server;
  HttpClient client{io.io()};
  std::shared_ptr<Backend> make(int attempts = 1) {
    HttpBackendOptions options;
    options.info.name = "claude";
    options.endpoint.base_url = "http://127.0.0.1:" + std::to_string(server.port());
    options.endpoint.api_key = "sk-vendor";
    options.timeouts = HttpTimeouts{.connect = milliseconds(1000),
                                    .first_byte = milliseconds(1000),
                                    .idle = milliseconds(1000),
                                    .total = milliseconds(3000)};
    options.retry.max_attempts = attempts;
    options.retry.initial_backoff = milliseconds(1);
    options.retry.max_backoff = milliseconds(5);
    return make_http_backend(io.io(), client, make_anthropic_translator(), std::move(options));
  }
};

TEST(HttpBackendNative, ForwardsTheBodyAndReturnsTheVendorsBytes) {
  Fixture f;
  std::string answer = R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x",)"
                       R"("content":[{"type":"thinking","thinking":"x","signature":"s"},)"
                       R"({"type":"text","text":"Hi"}],"stop_reason":"end_turn",)"
                       R"("usage":{"input_tokens":3,"output_tokens":2}})";
  f.server.set_default({send(http_response(200, answer))});
  std::string body = R"({"model" : "alias", "max_tokens":5,"messages":[{"role":"user","content":"Hi"}]})";
  Outcome out;
  f.make()->chat(native_request(body, false), false, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.result->error().message;
  EXPECT_EQ(out.result->value().native_body, answer);
  EXPECT_EQ(out.result->value().usage.completion_tokens, 2);
  auto sent = f.server.requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].target, "/v1/messages");
  EXPECT_EQ(sent[0].body,
            R"({"model" : "claude-x", "max_tokens":5,"messages":[{"role":"user","content":"Hi"}]})");
  EXPECT_EQ(find_header(sent[0].headers, "anthropic-version"), "2099-01-01");
  EXPECT_EQ(find_header(sent[0].headers, "anthropic-beta"), "b1");
  EXPECT_EQ(find_header(sent[0].headers, "x-api-key"), "sk-vendor");
}

TEST(HttpBackendNative, StreamsTheVendorsBytesOnWholeEvents) {
  Fixture f;
  // Split at awkward places: mid-event, mid-line, between the two newlines of a boundary.
  std::string stream = kStream;
  Script script{send(chunked_head(200, {{"content-type", "text/event-stream"}}))};
  std::vector<size_t> cuts = {17, 230, 231, 400, 402, 700, 1100, stream.size()};
  size_t from = 0;
  for (size_t cut : cuts) {
    cut = std::min(cut, stream.size());
    if (cut <= from) continue;
    script.push_back(send(chunk(stream.substr(from, cut - from))));
    script.push_back(pause(milliseconds(2)));
    from = cut;
  }
  script.push_back(send(last_chunk()));
  f.server.set_default(script);
  Outcome out;
  f.make()->chat(native_request(R"({"model":"a","stream":true})", true), true, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.result->error().message;
  std::string joined;
  for (const ChatChunk& c : out.chunks) {
    joined += c.native;
    if (!c.native.empty()) EXPECT_TRUE(c.native.ends_with("\n\n")) << "whole events only";
  }
  EXPECT_EQ(joined, stream);
  EXPECT_EQ(out.result->value().choices.at(0).message.text(), "Hi!");
  EXPECT_EQ(out.result->value().usage.completion_tokens, 9);
}

TEST(HttpBackendNative, AFailureBeforeContentDeliversNothingAndRetries) {
  Fixture f;
  std::string stream = kStream;
  size_t before_text = stream.find(
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1");
  f.server.push({send(chunked_head()), send(chunk(stream.substr(0, before_text))),
                 pause(milliseconds(10)), close_connection()});
  f.server.set_default({send(chunked_head()), send(chunk(stream)), send(last_chunk())});
  Outcome out;
  f.make(2)->chat(native_request(R"({"model":"a","stream":true})", true), true, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.result->error().message;
  std::string joined;
  for (const ChatChunk& c : out.chunks) joined += c.native;
  EXPECT_EQ(joined, stream) << "the failed attempt's thinking events never reached the client";
  EXPECT_EQ(f.server.requests().size(), 2u);
}

TEST(HttpBackendNative, OtherProtocolsAndPlainRequestsAreEncodedAsUsual) {
  Fixture f;
  f.server.set_default({send(http_response(
      200, R"({"id":"m","type":"message","role":"assistant","model":"claude-x","content":[],)"
           R"("stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}})"))});
  ChatRequest request = native_request("not even json", false);
  auto foreign = std::make_shared<NativeRequest>(*request.native);
  foreign->protocol = "openai";
  request.native = foreign;
  Outcome out;
  f.make()->chat(request, false, out.handlers());
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.result->error().message;
  EXPECT_TRUE(out.result->value().native_body.empty());
  EXPECT_NE(f.server.requests().at(0).body.find("\"max_tokens\""), std::string::npos)
      << "encoded from the ChatRequest";
}

}  // namespace
}  // namespace sy::backends
