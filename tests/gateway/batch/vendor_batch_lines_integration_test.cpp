// Vendor-batched lines under the rules synchronous lines obey, end to end in process (gateway +
// loopback fakes): a block budget refuses the lines past its remainder with the synchronous
// path's own error, a rate limit counts batched lines when they are submitted and paces the
// lines past it (they wait and run, nothing fails), a vendor that
// refuses the batch or expires lines sends them to the policy's next backend synchronously at
// the normal price, and a restricted line whose only allowed backend fails goes to the error
// file without ever reaching another vendor (the fakes record everything they received).

#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "gateway/batch/batch_test_support.h"
#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "ledger/sqlite_ledger_writer.h"
#include "switchyard/gateway/sha256.h"
#include "switchyard/policies/rules/policy_loader.h"

namespace sy::testing {
namespace {

using fakes::Vendor;
using nlohmann::json;

constexpr const char* kKey = "sk-acme";
constexpr const char* kCard = "4111 1111 1111 1111";

// Restricted data may only go to a backend in the EU (here: oai, the only one there).
constexpr char kPolicy[] = R"(
rules:
  - name: restricted-eu-only
    when: {sensitivity: {at_least: restricted}}
    require: {regions: [eu]}
)";

class VendorBatchLines : public ::testing::Test {
 protected:
  VendorBatchLines()
      : vendor_(fakes::FakeVendorOptions{
            .keys = {{Vendor::openai, "sk-o"}, {Vendor::anthropic, "sk-a"}}}) {
    vendor_.set_batch_delay(std::chrono::milliseconds(20));
  }

  // oai (OpenAI, batch API, EU; `oai_key` wrong = the vendor refuses every call), claude
  // (Anthropic, batch API, US), local. "fast" = oai only; "chat" = oai then local;
  // "eu-first" = oai then claude.
  std::shared_ptr<gateway::GatewayConfig> config(const std::string& oai_key = "sk-o") {
    auto config = std::make_shared<gateway::GatewayConfig>();
    auto batched = [](gateway::BackendConfig b) {
      b.batch_api.enabled = true;
      b.batch_api.poll_initial = std::chrono::milliseconds(10);
      b.batch_api.poll_max = std::chrono::milliseconds(40);
      return b;
    };
    config->backends.push_back(
        batched(fake_backend("oai", "openai", vendor_, Vendor::openai, oai_key)));
    config->backends.back().region = "eu";
    // 10 and 20 micro-dollars a token; the vendor's batch halves it.
    config->backends.back().pricing.flat = backends::PriceTerms{.input = {10'000'000, 1'000'000},
                                                                .output = {20'000'000, 1'000'000},
                                                                .batch_discount_bp = 5000};
    config->backends.push_back(
        batched(fake_backend("claude", "anthropic", vendor_, Vendor::anthropic, "sk-a")));
    config->backends.back().region = "us";
    config->backends.back().pricing.catalog = "anthropic";
    config->backends.push_back(fake_backend("local", "openai_compat", local_, Vendor::openai, "l"));
    config->backends.back().kind = backends::BackendKind::local;
    config->backends.back().region = "eu";
    config->models.push_back({"fast", {{"oai", "gpt-4o-mini"}}});
    config->models.push_back({"chat", {{"oai", "gpt-4o-mini"}, {"local", "llama"}}});
    config->models.push_back(
        {"eu-first", {{"oai", "gpt-4o-mini"}, {"claude", "claude-3-5-haiku-latest"}}});
    config->tenants.push_back({.name = "acme"});
    config->keys.push_back(
        {.id = "acme-k", .sha256_hex = gateway::sha256_hex(kKey), .tenant = "acme"});
    config->policy = policies::load_policy_string(kPolicy, "policy.yaml");
    config->data_dir = dir_.path().string();
    return config;
  }
  void start(std::shared_ptr<gateway::GatewayConfig> config) {
    gateway_ = std::make_unique<GatewayUnderTest>(std::move(config));
  }

  json run_job(const std::string& input) {
    const std::string id = create_batch(client_, gateway_->url(""), kKey, input);
    return wait_for_batch(client_, gateway_->url("/v1/batches/" + id), kKey);
  }
  std::map<std::string, json> file_lines(const json& batch, const char* field) {
    return batch_file_lines(client_, gateway_->url(""), kKey, batch, field);
  }
  // custom_id -> ledger row (the request id ends in the line's index into `ids`).
  std::map<std::string, gateway::LedgerRow> ledger_by_line(const std::vector<std::string>& ids) {
    std::map<std::string, gateway::LedgerRow> out;
    for (auto& row : gateway::read_sqlite_ledger(dir_ / "ledger.sqlite3")) {
      if (row.surface != "batch") continue;
      const size_t index = std::stoul(row.request_id.substr(row.request_id.rfind('_') + 1));
      EXPECT_FALSE(out.contains(ids.at(index))) << "billed twice: " << row.request_id;
      out[ids.at(index)] = row;
    }
    return out;
  }
  TestResponse sync_chat(const std::string& model, int max_tokens) {
    json body = {{"model", model},
                 {"max_tokens", max_tokens},
                 {"messages", {{{"role", "user"}, {"content", "hello"}}}}};
    return client_.post(gateway_->url("/v1/chat/completions"), body.dump(),
                        {{"authorization", std::string("Bearer ") + kKey}});
  }
  size_t requests_to(std::string_view target_prefix, std::string_view method = "") {
    size_t n = 0;
    for (const auto& r : vendor_.requests()) {
      n += r.target.starts_with(target_prefix) && (method.empty() || r.method == method);
    }
    return n;
  }

  gateway::testing::TempDir dir_;
  fakes::FakeVendor vendor_;
  fakes::FakeVendor local_;
  std::unique_ptr<GatewayUnderTest> gateway_;
  TestHttpClient client_;
};

TEST_F(VendorBatchLines, ABlockBudgetRefusesTheLinesPastItsRemainderWithTheSyncError) {
  auto cfg = config();
  // Each line may cost up to ~20,000 micro-dollars (max_tokens 1000 at 20 a token, plus its
  // prompt): the reservations of two lines fit in 50,000, a third does not.
  cfg->budgets.push_back({.tenant = "acme",
                          .period = gateway::BudgetPeriod::day,
                          .limit_micro_usd = 50'000,
                          .action = gateway::BudgetAction::block});
  start(cfg);
  std::vector<std::string> ids;
  std::string input;
  for (int i = 0; i < 6; ++i) {
    ids.push_back("l" + std::to_string(i));
    input += chat_line(ids.back(), "fast", "hello there", 1000);
  }
  const json done = run_job(input);
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["request_counts"]["completed"], 2);
  EXPECT_EQ(done["request_counts"]["failed"], 4);
  // Only the admitted lines reached the vendor.
  EXPECT_EQ(vendor_.batched_request_count(Vendor::openai), 2u);
  EXPECT_EQ(requests_to("/v1/chat/completions"), 0u);

  auto output = file_lines(done, "output_file_id");
  auto errors = file_lines(done, "error_file_id");
  EXPECT_TRUE(output.contains("l0") && output.contains("l1"));
  ASSERT_EQ(errors.size(), 4u);
  // The synchronous path's refusal of the same request, for comparison.
  TestResponse sync = sync_chat("fast", 100'000);
  ASSERT_EQ(sync.status, 429) << sync.body;
  const json sync_error = json::parse(sync.body)["error"];
  for (const auto& [cid, line] : errors) {
    EXPECT_EQ(line["response"]["status_code"], 429) << cid;
    const json& error = line["response"]["body"]["error"];
    EXPECT_EQ(error["code"], sync_error["code"]) << cid;  // insufficient_quota
    EXPECT_EQ(error["type"], sync_error["type"]) << cid;
    EXPECT_NE(error["message"].get<std::string>().find("Budget exceeded"), std::string::npos);
  }
  // The reservations were settled to the real (batch-priced, small) cost: what is left now
  // takes another line's full estimate again.
  TestResponse after = sync_chat("fast", 1000);
  EXPECT_EQ(after.status, 200) << after.body;

  gateway_.reset();
  auto rows = ledger_by_line(ids);
  ASSERT_EQ(rows.size(), 6u);
  for (const char* cid : {"l0", "l1"}) {
    EXPECT_EQ(rows[cid].status, gateway::LedgerStatus::ok);
    EXPECT_EQ(rows[cid].price_source, "config+batch");
  }
  for (const char* cid : {"l2", "l3", "l4", "l5"}) {
    EXPECT_EQ(rows[cid].status, gateway::LedgerStatus::denied) << cid;
    EXPECT_EQ(rows[cid].error_kind, "budget_exceeded") << cid;
    EXPECT_EQ(rows[cid].cost, 0);
  }
}

TEST_F(VendorBatchLines, ARateLimitPacesTheLinesPastItInsteadOfFailingThem) {
  auto cfg = config();
  // 60 a minute: a full bucket of 60, then one more each second.
  cfg->rate_limits.push_back({.key = "acme-k", .requests_per_minute = 60});
  start(cfg);
  std::vector<std::string> ids;
  std::string input;
  for (int i = 0; i < 62; ++i) {
    ids.push_back("r" + std::to_string(i));
    input += chat_line(ids.back(), "fast", "hello", 20);
  }
  const auto started = std::chrono::steady_clock::now();
  const json done = run_job(input);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["request_counts"]["completed"], 62);
  EXPECT_EQ(done["request_counts"]["failed"], 0);
  // The bucket's 60 went to the vendor's batch, counted when submitted; the two past it were
  // refused there, left to the synchronous path, and run there once the limit had room.
  EXPECT_EQ(vendor_.batched_request_count(Vendor::openai), 60u);
  EXPECT_EQ(requests_to("/v1/chat/completions"), 2u);
  EXPECT_GE(took, std::chrono::seconds(1));
  auto output = file_lines(done, "output_file_id");
  EXPECT_EQ(output.size(), 62u);
  gateway_.reset();
  // Each line billed once; the refusals that paced it left no row.
  auto rows = ledger_by_line(ids);
  ASSERT_EQ(rows.size(), 62u);
  for (const auto& [cid, row] : rows) EXPECT_EQ(row.status, gateway::LedgerStatus::ok) << cid;
}

TEST_F(VendorBatchLines, ARefusedVendorBatchFallsBackToLocalAtTheNormalPrice) {
  start(config("sk-wrong"));  // the vendor refuses the gateway's key: the batch is refused
  std::vector<std::string> ids = {"x0", "x1", "x2"};
  std::string input;
  for (const auto& id : ids) input += chat_line(id, "chat", "hello " + id, 20);
  const json done = run_job(input);
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["request_counts"]["completed"], 3);
  auto output = file_lines(done, "output_file_id");
  ASSERT_EQ(output.size(), 3u);
  for (const auto& [cid, line] : output) {
    EXPECT_EQ(line["response"]["status_code"], 200) << cid;
  }
  EXPECT_EQ(vendor_.batch_count(Vendor::openai), 0u);  // refused at its first call
  EXPECT_GT(requests_to("/v1/files", "POST"), 0u);     // which was tried
  EXPECT_EQ(requests_to("/v1/chat/completions"), 0u);  // and not retried synchronously
  EXPECT_EQ(local_.request_count(), 3u);
  gateway_.reset();
  auto rows = ledger_by_line(ids);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& [cid, row] : rows) {
    EXPECT_EQ(row.backend, "local") << cid;
    EXPECT_EQ(row.status, gateway::LedgerStatus::ok) << cid;
    EXPECT_EQ(row.price_source.find("+batch"), std::string::npos) << cid;
  }
}

TEST_F(VendorBatchLines, LinesThatExpireAtTheVendorFallBackAndTheRestStayBatched) {
  vendor_.set_batch_line_fault([](const std::string&, const std::string& body) {
    return body.find("too late") != std::string::npos ? fakes::BatchLineFault::expired
                                                      : fakes::BatchLineFault::none;
  });
  start(config());
  std::vector<std::string> ids = {"ok", "late"};
  const json done =
      run_job(chat_line("ok", "chat", "hello", 20) + chat_line("late", "chat", "too late", 20));
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(file_lines(done, "output_file_id").size(), 2u);
  EXPECT_EQ(local_.request_count(), 1u);
  gateway_.reset();
  auto rows = ledger_by_line(ids);
  EXPECT_EQ(rows["ok"].backend, "oai");
  EXPECT_EQ(rows["ok"].price_source, "config+batch");
  EXPECT_EQ(rows["late"].backend, "local");
}

TEST_F(VendorBatchLines, ARestrictedLineWhoseOnlyAllowedBackendFailsGoesToTheErrorFile) {
  start(config("sk-wrong"));  // oai, the one EU vendor, refuses the batch
  std::vector<std::string> ids = {"plain", "card"};
  const json done = run_job(chat_line("plain", "eu-first", "hello there", 20) +
                            chat_line("card", "eu-first", std::string("Refund ") + kCard, 20));
  ASSERT_EQ(done["status"], "completed") << done.dump();
  auto output = file_lines(done, "output_file_id");
  auto errors = file_lines(done, "error_file_id");
  // The plain line fell back to the next vendor the policy allows it, synchronously.
  ASSERT_TRUE(output.contains("plain"));
  ASSERT_EQ(errors.size(), 1u);
  ASSERT_TRUE(errors.contains("card"));
  EXPECT_GE(errors["card"]["response"]["status_code"], 400);
  // Anthropic saw one synchronous request (the plain line), no batch, and never the card.
  EXPECT_EQ(vendor_.batch_count(Vendor::anthropic), 0u);
  EXPECT_EQ(requests_to("/v1/messages", "POST"), 1u);
  for (const auto& r : vendor_.requests()) {
    if (r.vendor != Vendor::anthropic) continue;
    EXPECT_EQ(r.body.find(kCard), std::string::npos) << r.target;
    EXPECT_EQ(r.body.find("4111111111111111"), std::string::npos) << r.target;
  }
  EXPECT_EQ(local_.request_count(), 0u);
  gateway_.reset();
  auto rows = ledger_by_line(ids);
  EXPECT_EQ(rows["plain"].backend, "claude");
  EXPECT_EQ(rows["plain"].price_source, "catalog");
  EXPECT_EQ(rows["card"].status, gateway::LedgerStatus::error);
  EXPECT_EQ(rows["card"].sensitivity, "restricted");
}

}  // namespace
}  // namespace sy::testing
