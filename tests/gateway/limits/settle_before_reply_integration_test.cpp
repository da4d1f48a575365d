// An exchange's spend is settled before the end of its answer reaches the client, on every
// surface and for streams, so a client that sends its next request as soon as the previous
// answer ends (to this replica or another one sharing the store) is checked against that
// spend. The gateway's ledger is a writer that takes 100 ms per row: settlement follows the
// row, so an answer sent before settling would arrive 100 ms before the spend is counted.
// (Before the exchange called on_done ahead of its last write, this held only because the
// server posts writes to the connection's strand, which runs after the completion handler;
// the test pins the order whatever the transport does.)

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "limits/limiter.h"
#include "switchyard/gateway/sha256.h"

namespace sy::testing {
namespace {

using nlohmann::json;

constexpr char kKey[] = "sy-settle-before-reply-key";

// Accepts every row after a pause, as a slow store would.
class SlowLedger final : public gateway::LedgerWriter {
 public:
  bool write(gateway::LedgerRow) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ++rows_;
    return true;
  }
  void flush() override {}
  void close() override {}
  gateway::LedgerStats stats() const override { return {.accepted = rows_, .committed = rows_}; }

 private:
  std::atomic<uint64_t> rows_{0};
};

class SettleBeforeReply : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = std::make_shared<gateway::GatewayConfig>();
    config->limits.io_threads = 2;
    config->limits.drain_timeout = std::chrono::milliseconds(1000);
    auto openai = fake_backend("openai", "openai", fake_, fakes::Vendor::openai, "sk-openai");
    auto claude =
        fake_backend("claude", "anthropic", fake_, fakes::Vendor::anthropic, "sk-claude");
    config->backends = {openai, claude};
    config->models.push_back({"gpt", {{"openai", "gpt-4o"}}});
    config->models.push_back({"claude", {{"claude", "claude-haiku-4-5"}}});
    config->tenants.push_back({.name = "acme"});
    config->keys.push_back({.id = "k", .sha256_hex = gateway::sha256_hex(kKey), .tenant = "acme"});
    config->budgets.push_back({.tenant = "acme",
                               .period = gateway::BudgetPeriod::day,
                               .limit_micro_usd = 1'000'000'000,
                               .action = gateway::BudgetAction::block});
    gateway_ = std::make_unique<gateway::Gateway>(config, std::make_shared<SlowLedger>());
    port_ = gateway_->start("127.0.0.1", 0);
  }
  void TearDown() override {
    gateway_->shutdown();
    gateway_->wait();
  }

  TestResponse post(const std::string& path, const json& body) {
    return client_.post("http://127.0.0.1:" + std::to_string(port_) + path, body.dump(),
                        {{"authorization", std::string("Bearer ") + kKey},
                         {"x-api-key", kKey},
                         {"anthropic-version", "2023-06-01"}},
                        std::chrono::milliseconds(5000));
  }
  uint64_t settled() const { return gateway_->limiter()->stats().settled; }

  fakes::FakeVendor fake_{fakes::FakeVendorOptions{}};
  std::unique_ptr<gateway::Gateway> gateway_;
  uint16_t port_ = 0;
  TestHttpClient client_;
};

json hello(const std::string& model, bool stream) {
  return {{"model", model},
          {"max_tokens", 16},
          {"stream", stream},
          {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}};
}

TEST_F(SettleBeforeReply, AnswerEndsOnlyOnceItsSpendIsSettledOnEverySurface) {
  const TestResponse chat = post("/v1/chat/completions", hello("gpt", false));
  ASSERT_EQ(chat.status, 200) << chat.body;
  EXPECT_EQ(settled(), 1u) << "chat.completion answered before its spend was settled";

  const TestResponse stream = post("/v1/chat/completions", hello("gpt", true));
  ASSERT_EQ(stream.status, 200) << stream.body;
  EXPECT_NE(stream.body.find("[DONE]"), std::string::npos) << stream.body;
  EXPECT_EQ(settled(), 2u) << "stream ended before its spend was settled";

  const TestResponse message = post("/v1/messages", hello("claude", false));
  ASSERT_EQ(message.status, 200) << message.body;
  EXPECT_EQ(settled(), 3u) << "message answered before its spend was settled";

  const TestResponse message_stream = post("/v1/messages", hello("claude", true));
  ASSERT_EQ(message_stream.status, 200) << message_stream.body;
  EXPECT_NE(message_stream.body.find("message_stop"), std::string::npos) << message_stream.body;
  EXPECT_EQ(settled(), 4u) << "message stream ended before its spend was settled";
}

}  // namespace
}  // namespace sy::testing
