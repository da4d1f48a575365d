// Every request through a real gateway writes exactly one ledger row, priced from the vendor's
// usage: streamed and buffered answers bill identically for each vendor format (cached and
// reasoning tokens included), a cancelled stream is billed for what was generated, failures
// and refusals are recorded, and shutdown stores every row.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "ledger/sqlite_ledger_writer.h"
#include "switchyard/gateway/config_loader.h"
#include "switchyard/gateway/sha256.h"

namespace sy::testing {
namespace {

using fakes::Fault;
using fakes::Script;
using fakes::Vendor;
using gateway::LedgerRow;
using gateway::LedgerStatus;
using nlohmann::json;

struct VendorCase {
  std::string name;
  Vendor vendor;
  std::string protocol;
  std::string model;  // a model of the shipped catalog
  int cache_write_tokens;
  bool reports_reasoning;  // Anthropic folds thinking into output_tokens without a count
};

void PrintTo(const VendorCase& c, std::ostream* os) { *os << c.name; }

constexpr char kPrompt[] = "one two three four five six seven eight nine ten eleven twelve";

class LedgerPerVendor : public ::testing::TestWithParam<VendorCase> {
 protected:
  std::vector<LedgerRow> run(const std::function<void(GatewayUnderTest&)>& drive) {
    const VendorCase& c = GetParam();
    auto config = std::make_shared<gateway::GatewayConfig>();
    config->data_dir = dir_.path().string();
    config->pricing.catalog = gateway::default_price_catalog();
    config->pricing.baseline = "openai/gpt-4o";
    config->backends.push_back(fake_backend("vendor", c.protocol, fake_, c.vendor, "sk-test"));
    config->backends.back().pricing.catalog = c.name;
    config->models.push_back({"m", {{"vendor", c.model}}});
    {
      GatewayUnderTest gateway(config);
      drive(gateway);
    }  // shutdown flushes the ledger
    return gateway::read_sqlite_ledger(dir_ / "ledger.sqlite3");
  }

  TestResponse ask(GatewayUnderTest& gateway, bool stream) {
    json body = {{"model", "m"},
                 {"messages", {{{"role", "user"}, {"content", kPrompt}}}},
                 {"stream", stream}};
    if (stream) body["stream_options"] = {{"include_usage", true}};
    return client_.post(gateway.url("/v1/chat/completions"), body.dump(), {},
                        std::chrono::milliseconds(5000));
  }

  gateway::testing::TempDir dir_;
  fakes::FakeVendor fake_;
  TestHttpClient client_;
};

TEST_P(LedgerPerVendor, StreamedAndBufferedAnswersBillIdentically) {
  const VendorCase& c = GetParam();
  fake_.set_default_reply(fakes::Reply{.text = "alpha beta gamma delta",
                                       .cached_tokens = 4,
                                       .cache_write_tokens = c.cache_write_tokens,
                                       .reasoning_tokens = 6});
  std::string header_cost;
  json stream_extra;
  auto rows = run([&](GatewayUnderTest& gateway) {
    TestResponse buffered = ask(gateway, false);
    ASSERT_EQ(buffered.status, 200) << buffered.body;
    header_cost = buffered.header("x-switchyard-cost-usd");
    TestResponse streamed = ask(gateway, true);
    ASSERT_EQ(streamed.status, 200) << streamed.body;
    auto events = streamed.sse_data();
    ASSERT_GE(events.size(), 2u);
    ASSERT_EQ(events.back(), "[DONE]");
    stream_extra = json::parse(events[events.size() - 2])["x_switchyard"];
    // A client that did not ask for usage is billed the same: the gateway always asks.
    json quiet = {
        {"model", "m"}, {"messages", {{{"role", "user"}, {"content", kPrompt}}}}, {"stream", true}};
    EXPECT_EQ(client_.post(gateway.url("/v1/chat/completions"), quiet.dump()).status, 200);
  });
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].usage, rows[0].usage);
  EXPECT_EQ(rows[2].cost, rows[0].cost);
  const LedgerRow& buffered = rows[0];
  const LedgerRow& streamed = rows[1];
  EXPECT_FALSE(buffered.stream);
  EXPECT_TRUE(streamed.stream);

  // The vendor's usage, normalized: cached tokens inside the prompt, reasoning in the output.
  EXPECT_EQ(buffered.usage.cached_tokens, 4);
  EXPECT_EQ(buffered.usage.cache_write_tokens, c.cache_write_tokens);
  EXPECT_EQ(buffered.usage.completion_tokens, 4 + 6);
  EXPECT_EQ(buffered.usage.reasoning_tokens, c.reports_reasoning ? 6 : 0);
  EXPECT_GE(buffered.usage.prompt_tokens, 12);
  EXPECT_FALSE(buffered.usage_estimated);

  // Identical rows but for what differs by nature (ids, timing, the stream flag).
  EXPECT_EQ(streamed.usage, buffered.usage);
  EXPECT_EQ(streamed.cost, buffered.cost);
  EXPECT_EQ(streamed.baseline_cost, buffered.baseline_cost);
  EXPECT_EQ(streamed.price_source, "catalog");
  EXPECT_EQ(buffered.price_source, "catalog");
  EXPECT_EQ(streamed.backend, buffered.backend);
  EXPECT_EQ(streamed.model, c.model);
  EXPECT_EQ(streamed.status, LedgerStatus::ok);
  EXPECT_EQ(buffered.status, LedgerStatus::ok);
  EXPECT_TRUE(streamed.ttft_ms.has_value());
  EXPECT_FALSE(buffered.ttft_ms.has_value());

  // The cost is the catalog price of exactly these tokens, and the client saw the same figure.
  // The catalog must outlive `terms`, which points into it.
  const auto catalog = gateway::default_price_catalog();
  const auto* terms = catalog->find(c.name, c.model)
                          ->at(std::chrono::floor<std::chrono::days>(
                              std::chrono::system_clock::now()));
  ASSERT_NE(terms, nullptr);
  EXPECT_EQ(buffered.cost, backends::price_usage(buffered.usage, *terms));
  EXPECT_GT(buffered.cost, 0);
  EXPECT_EQ(header_cost, backends::format_usd(buffered.cost));
  EXPECT_EQ(stream_extra["cost_usd"], backends::format_usd(streamed.cost));
  EXPECT_EQ(stream_extra["cost_micro_usd"], streamed.cost);
  const auto* gpt4o = catalog->find("openai", "gpt-4o")
                          ->at(std::chrono::floor<std::chrono::days>(
                              std::chrono::system_clock::now()));
  EXPECT_EQ(buffered.baseline_cost, backends::price_usage(buffered.usage, *gpt4o));
}

// A client that reads a stream until its first content delta, then hangs up.
std::string read_first_delta_then_close(uint16_t port, const std::string& body) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string received;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        "content-type: application/json\r\ncontent-length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buffer[4096];
    while (received.find("\"content\":\"") == std::string::npos) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      received.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return received;
}

TEST_P(LedgerPerVendor, ACancelledStreamIsBilledForWhatWasGenerated) {
  Script slow;
  slow.chunk_delay_ms = 100;  // 40 words: the whole answer would take seconds
  std::string text;
  for (int i = 0; i < 40; ++i) text += "word ";
  slow.reply = fakes::Reply{.text = text};
  fake_.push_script(slow);
  auto rows = run([&](GatewayUnderTest& gateway) {
    json body = {
        {"model", "m"}, {"messages", {{{"role", "user"}, {"content", kPrompt}}}}, {"stream", true}};
    const std::string seen = read_first_delta_then_close(gateway.port(), body.dump());
    ASSERT_NE(seen.find("\"content\":\""), std::string::npos) << seen;
    ASSERT_TRUE(fake_.wait_for_requests(1, std::chrono::milliseconds(2000)));
  });
  ASSERT_EQ(rows.size(), 1u);
  const LedgerRow& row = rows[0];
  EXPECT_EQ(row.status, LedgerStatus::cancelled);
  EXPECT_EQ(row.error_kind, "cancelled");
  EXPECT_TRUE(row.stream);
  // Billed, not zero: the vendor's running counts if it sent any (Gemini does), else an
  // estimate of the prompt and of the words that reached the gateway before the hang-up.
  EXPECT_GT(row.usage.prompt_tokens, 0);
  EXPECT_GT(row.usage.completion_tokens, 0);
  EXPECT_LT(row.usage.completion_tokens, 40);
  EXPECT_GT(row.cost, 0);
  EXPECT_EQ(row.price_source, "catalog");
  EXPECT_TRUE(row.ttft_ms.has_value());
}

TEST_P(LedgerPerVendor, AFailedRequestWritesAnErrorRow) {
  fake_.push_script(Script{.fault = Fault::status, .status = 500});
  auto rows = run([&](GatewayUnderTest& gateway) {
    TestResponse r = ask(gateway, false);
    EXPECT_EQ(r.status, 502);
  });
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].status, LedgerStatus::error);
  EXPECT_EQ(rows[0].error_kind, "upstream_error");
  EXPECT_EQ(rows[0].http_status, 502);
  EXPECT_EQ(rows[0].backend, "vendor");
  EXPECT_EQ(rows[0].usage, backends::Usage{});
  EXPECT_EQ(rows[0].cost, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Vendors, LedgerPerVendor,
    ::testing::Values(VendorCase{"openai", Vendor::openai, "openai", "gpt-4o-mini", 0, true},
                      VendorCase{"anthropic", Vendor::anthropic, "anthropic", "claude-sonnet-4-5",
                                 2, false},
                      VendorCase{"gemini", Vendor::gemini, "gemini", "gemini-2.5-flash", 0, true}),
    [](const auto& info) { return info.param.name; });

TEST(Ledger, RecordsRefusalsAndUnknownModels) {
  gateway::testing::TempDir dir;
  fakes::FakeVendor fake;
  auto config = std::make_shared<gateway::GatewayConfig>();
  config->data_dir = dir.path().string();
  config->backends.push_back(fake_backend("vendor", "openai", fake, Vendor::openai, "sk-test"));
  config->backends.back().pricing.catalog = "openai";
  config->models.push_back({"m", {{"vendor", "gpt-4o-mini"}}});
  config->tenants.push_back({.name = "acme", .allowed_models = {"m"}});
  config->keys.push_back(
      {.id = "acme-key", .sha256_hex = gateway::sha256_hex("sk-acme-valid-key"), .tenant = "acme"});
  TestHttpClient client;
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  {
    GatewayUnderTest gateway(config);
    const backends::Headers good = {{"authorization", "Bearer sk-acme-valid-key"}};
    EXPECT_EQ(client.post(gateway.url("/v1/chat/completions"), body, {}).status, 401);
    EXPECT_EQ(client
                  .post(gateway.url("/v1/chat/completions"),
                        R"({"model":"other","messages":[{"role":"user","content":"hi"}]})", good)
                  .status,
              403);
    EXPECT_EQ(client.post(gateway.url("/v1/chat/completions"), "{not json", good).status, 400);
    EXPECT_EQ(client.post(gateway.url("/v1/chat/completions"), body, good).status, 200);
    EXPECT_EQ(client.get(gateway.url("/v1/models"), good).status, 200);  // not a model call
  }
  auto rows = gateway::read_sqlite_ledger(dir / "ledger.sqlite3");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].status, LedgerStatus::denied);
  EXPECT_EQ(rows[0].error_kind, "authentication");
  EXPECT_EQ(rows[0].tenant, "");
  EXPECT_EQ(rows[1].status, LedgerStatus::denied);
  EXPECT_EQ(rows[1].error_kind, "permission_denied");
  EXPECT_EQ(rows[1].tenant, "acme");
  EXPECT_EQ(rows[1].key_id, "acme-key");
  EXPECT_EQ(rows[2].status, LedgerStatus::error);
  EXPECT_EQ(rows[2].error_kind, "invalid_request");
  EXPECT_EQ(rows[3].status, LedgerStatus::ok);
  EXPECT_EQ(rows[3].tenant, "acme");
  EXPECT_GT(rows[3].cost, 0);  // the shipped catalog prices gpt-4o-mini
  for (const auto& row : rows) {
    EXPECT_EQ(row.endpoint, "/v1/chat/completions");
    EXPECT_FALSE(row.request_id.empty());
  }
}

TEST(Ledger, PricesALocalBackendByItsHardwareCost) {
  gateway::testing::TempDir dir;
  fakes::FakeVendor fake;
  fake.set_default_reply(fakes::Reply{.text = "local answer"});
  auto config = std::make_shared<gateway::GatewayConfig>();
  config->data_dir = dir.path().string();
  config->backends.push_back(fake_backend("gpu", "openai_compat", fake, Vendor::openai, "sk-test"));
  config->backends.back().kind = backends::BackendKind::local;
  // $1.80/h + $0.36/h at 600 tokens/s: exactly 1 micro-dollar per token.
  config->backends.back().pricing.hardware = backends::HardwareCost{
      .cost_per_hour = 1'800'000, .energy_per_hour = 360'000, .output_tokens_per_second = 600};
  config->models.push_back({"local", {{"gpu", "llama-3.1-8b"}}});
  TestHttpClient client;
  std::string header;
  {
    GatewayUnderTest gateway(config);
    TestResponse r = client.post(gateway.url("/v1/chat/completions"),
                                 R"({"model":"local","messages":[{"role":"user",)"
                                 R"("content":"three prompt words"}]})");
    ASSERT_EQ(r.status, 200) << r.body;
    header = r.header("x-switchyard-cost-usd");
  }
  auto rows = gateway::read_sqlite_ledger(dir / "ledger.sqlite3");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].price_source, "hardware");
  EXPECT_EQ(rows[0].cost, rows[0].usage.total());  // honest, not zero
  EXPECT_GT(rows[0].cost, 0);
  EXPECT_EQ(header, backends::format_usd(rows[0].cost));
}

TEST(Ledger, ShutdownStoresEveryRowOfConcurrentRequests) {
  gateway::testing::TempDir dir;
  fakes::FakeVendor fake;
  auto config = std::make_shared<gateway::GatewayConfig>();
  config->data_dir = dir.path().string();
  config->backends.push_back(fake_backend("vendor", "openai", fake, Vendor::openai, "sk-test"));
  config->backends.back().pricing.catalog = "openai";
  // This test is about the rows, not deadlines: the fault tests' 300-400 ms upstream deadlines
  // time out some of 100 requests on an oversubscribed machine, and a 504 is no 200.
  config->backends.back().timeouts.first_byte = std::chrono::milliseconds(5000);
  config->backends.back().timeouts.idle = std::chrono::milliseconds(5000);
  config->models.push_back({"m", {{"vendor", "gpt-4o-mini"}}});
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::atomic<int> ok{0};
  {
    GatewayUnderTest gateway(config);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        TestHttpClient client;
        for (int i = 0; i < kEach; ++i) {
          json body = {{"model", "m"},
                       {"messages", {{{"role", "user"}, {"content", "count me"}}}},
                       {"stream", (t + i) % 2 == 0}};
          if (client.post(gateway.url("/v1/chat/completions"), body.dump()).status == 200) ++ok;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    // No flush here: destroying the gateway must store every row itself.
  }
  EXPECT_EQ(ok.load(), kThreads * kEach);
  auto rows = gateway::read_sqlite_ledger(dir / "ledger.sqlite3");
  EXPECT_EQ(rows.size(), static_cast<size_t>(kThreads * kEach));
  std::set<std::string> ids;
  for (const auto& row : rows) ids.insert(row.request_id);
  EXPECT_EQ(ids.size(), rows.size()) << "one row per request, none twice";
}

}  // namespace
}  // namespace sy::testing
