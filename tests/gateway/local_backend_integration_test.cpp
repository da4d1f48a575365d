// The local backend behind the gateway's OpenAI surface, with stories260K: refusals in the
// client's format (503 + Retry-After when the engine's queue is full, 400
// context_length_exceeded), /v1/models with the context length, the backend's headers, and a
// client that leaves mid-stream freeing its sequence and KV blocks.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <future>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/gateway_fixture.h"

namespace sy::testing {
namespace {

using nlohmann::json;

const std::string kStories = std::string(SWITCHYARD_MODELS_DIR) + "/stories260K/stories260K.gguf";

std::shared_ptr<gateway::GatewayConfig> local_config(size_t max_running, size_t max_waiting) {
  auto config = std::make_shared<gateway::GatewayConfig>();
  gateway::BackendConfig b;
  b.name = "local";
  b.protocol = "local";
  b.kind = backends::BackendKind::local;
  b.region = "local";
  b.models = {"stories"};
  b.local.models.push_back(backends::LocalModelSpec{.name = "stories",
                                                    .path = kStories,
                                                    .chat_template = "plain",
                                                    .kv_budget_bytes = 8u << 20,
                                                    .threads = 1,
                                                    .max_running = max_running,
                                                    .max_waiting = max_waiting});
  config->backends.push_back(std::move(b));
  return config;
}

std::string chat_body(const std::string& text, int max_tokens, bool stream = false) {
  return json{{"model", "stories"},
              {"messages", json::array({{{"role", "user"}, {"content", text}}})},
              {"max_tokens", max_tokens},
              {"temperature", 0},
              {"stream", stream}}
      .dump();
}

TEST(LocalBackendGateway, AnswersAndListsTheModelWithItsContextLength) {
  GatewayUnderTest gateway(local_config(8, 8));
  TestHttpClient client;
  TestResponse models = client.get(gateway.url("/v1/models"));
  ASSERT_EQ(models.status, 200);
  json listed = json::parse(models.body)["data"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["id"], "stories");
  EXPECT_EQ(listed[0]["owned_by"], "local");
  EXPECT_EQ(listed[0]["context_length"], 2048);

  TestResponse r = client.post(gateway.url("/v1/chat/completions"), chat_body("Hi", 8));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-switchyard-backend"), "local");
  json body = json::parse(r.body);
  EXPECT_EQ(body["usage"]["completion_tokens"], 8);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
}

TEST(LocalBackendGateway, PromptLongerThanTheContextIsA400InOpenAIsFormat) {
  GatewayUnderTest gateway(local_config(8, 8));
  TestHttpClient client;
  std::string text;
  for (int i = 0; i < 800; ++i) text += "once upon a time ";
  TestResponse r = client.post(gateway.url("/v1/chat/completions"), chat_body(text, 8));
  ASSERT_EQ(r.status, 400) << r.body;
  json error = json::parse(r.body)["error"];
  EXPECT_EQ(error["code"], "context_length_exceeded");
  EXPECT_EQ(error["type"], "invalid_request_error");
  EXPECT_EQ(error["param"], "messages");
}

// The value of an engine gauge or counter for the stories model in /metrics, or -1.
long long engine_metric(TestHttpClient& client, GatewayUnderTest& gateway,
                        const std::string& name) {
  TestResponse r = client.get(gateway.url("/metrics"));
  std::smatch m;
  const std::regex line(name + R"(\{[^}]*model="stories"[^}]*\} (\d+))");
  return std::regex_search(r.body, m, line) ? std::stoll(m[1].str()) : -1;
}

// A client that closes its connection mid-stream: the engine ends the sequence at its next
// step, its running count and KV blocks in use go back to zero and it generates no more.
TEST(LocalBackendGateway, ClientThatLeavesMidStreamFreesItsSequenceAndBlocks) {
  GatewayUnderTest gateway(local_config(8, 8));
  TestHttpClient client;
  const std::string body = chat_body("Once upon a time", 2000, /*stream=*/true);
  const std::string request =
      "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
      "content-type: application/json\r\ncontent-length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(gateway.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  // Read until two token chunks have arrived: the sequence is running.
  std::string received;
  char buffer[4096];
  size_t chunks = 0;
  while (chunks < 3) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    ASSERT_GT(n, 0) << "the stream ended early: " << received;
    received.append(buffer, static_cast<size_t>(n));
    chunks = 0;
    for (size_t at = received.find("data: "); at != std::string::npos;
         at = received.find("data: ", at + 1)) {
      ++chunks;
    }
  }
  EXPECT_NE(received.find("200 OK"), std::string::npos) << received;
  // Three chunks into a 2000-token answer (about 0.2 s of generation on a quiet machine, more
  // under load): the sequence is still running when the client leaves.
  ::close(fd);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  long long running = -1, blocks = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    running = engine_metric(client, gateway, "switchyard_engine_running_sequences");
    blocks = engine_metric(client, gateway, "switchyard_engine_kv_blocks_used");
    if (running == 0 && blocks == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(running, 0);
  EXPECT_EQ(blocks, 0);
  const long long generated =
      engine_metric(client, gateway, "switchyard_engine_generated_tokens_total");
  EXPECT_GT(generated, 0);
  EXPECT_LT(generated, 2000) << "the sequence ran to its end: the disconnect did not stop it";
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(engine_metric(client, gateway, "switchyard_engine_generated_tokens_total"), generated)
      << "tokens are still being generated";
}

TEST(LocalBackendGateway, FullQueueIsA503WithRetryAfter) {
  GatewayUnderTest gateway(local_config(1, 1));
  constexpr int kClients = 8;
  std::vector<std::future<TestResponse>> answers;
  for (int i = 0; i < kClients; ++i) {
    answers.push_back(std::async(std::launch::async, [&] {
      TestHttpClient client;
      return client.post(gateway.url("/v1/chat/completions"),
                         chat_body("Once upon a time", 2000, /*stream=*/true), {},
                         std::chrono::seconds(30));
    }));
  }
  int refused = 0;
  int served = 0;
  for (auto& answer : answers) {
    TestResponse r = answer.get();
    if (r.status == 503) {
      ++refused;
      EXPECT_GE(std::stoi(r.header("retry-after")), 1);
      json error = json::parse(r.body)["error"];
      EXPECT_EQ(error["code"], "overloaded");
    } else {
      ASSERT_EQ(r.status, 200) << r.body;
      ++served;
    }
  }
  EXPECT_GE(refused, 1);
  EXPECT_GE(served, 1);
  EXPECT_EQ(refused + served, kClients);
}

}  // namespace
}  // namespace sy::testing
