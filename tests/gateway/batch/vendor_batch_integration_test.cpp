// Bulk jobs through vendor batch APIs, end to end in process: a gateway whose OpenAI and
// Anthropic backends have `batch_api` on, in front of the loopback fake that speaks OpenAI's
// Batch API and Anthropic's Message Batches. Lines the policy routes to those backends are
// submitted as one vendor batch per backend (translated for Anthropic, aliases resolved),
// polled, mapped back by custom_id into the job's output and error files once, and billed at
// the batch price; a restricted line never reaches a vendor; Gemini and local lines stay
// synchronous; a restart resumes polling instead of submitting again; a cancel reaches the
// vendor. The submit's crash window: a batch the vendor accepted whose answer the gateway
// never got (it went away mid-call) is found at the vendor after the restart, not submitted
// again; one the vendor never received is submitted once; a failed create is asked about
// before it is tried again.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "batch/sqlite_batch_store.h"
#include "gateway/batch/batch_test_support.h"
#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "ledger/request_pricer.h"
#include "ledger/sqlite_ledger_writer.h"
#include "switchyard/gateway/sha256.h"
#include "switchyard/policies/rules/policy_loader.h"

namespace sy::testing {
namespace {

using fakes::Vendor;
using nlohmann::json;

constexpr const char* kKey = "sk-acme";
constexpr const char* kCard = "4111 1111 1111 1111";

constexpr char kPolicy[] = R"(
rules:
  - name: restricted-local-only
    when: {sensitivity: {at_least: restricted}}
    require: {kind: local}
)";

class VendorBatches : public ::testing::Test {
 protected:
  VendorBatches()
      : vendor_(fakes::FakeVendorOptions{
            .keys = {{Vendor::openai, "sk-o"}, {Vendor::anthropic, "sk-a"}}}) {
    vendor_.set_batch_delay(std::chrono::milliseconds(40));
  }

  std::shared_ptr<gateway::GatewayConfig> config() {
    auto config = std::make_shared<gateway::GatewayConfig>();
    auto batched = [](gateway::BackendConfig b) {
      b.batch_api.enabled = true;
      b.batch_api.poll_initial = std::chrono::milliseconds(10);
      b.batch_api.poll_max = std::chrono::milliseconds(40);
      return b;
    };
    config->backends.push_back(
        batched(fake_backend("oai", "openai", vendor_, Vendor::openai, "sk-o")));
    config->backends.back().region = "us";
    // A flat price with the vendor's 50 % batch discount: big enough to see the halving exactly.
    config->backends.back().pricing.flat = backends::PriceTerms{.input = {10'000'000, 1'000'000},
                                                                .output = {20'000'000, 1'000'000},
                                                                .batch_discount_bp = 5000};
    config->backends.push_back(
        batched(fake_backend("claude", "anthropic", vendor_, Vendor::anthropic, "sk-a")));
    config->backends.back().pricing.catalog = "anthropic";  // what the loader sets by protocol
    config->backends.push_back(fake_backend("gem", "gemini", vendor_, Vendor::gemini, "sk-g"));
    config->backends.back().pricing.catalog = "gemini";
    config->backends.push_back(fake_backend("local", "openai_compat", local_, Vendor::openai, "l"));
    config->backends.back().kind = backends::BackendKind::local;
    config->backends.back().region = "local";
    config->models.push_back({"fast", {{"oai", "gpt-4o-mini"}}});
    config->models.push_back({"haiku", {{"claude", "claude-3-5-haiku-latest"}}});
    config->models.push_back({"flash", {{"gem", "gemini-2.0-flash"}}});
    config->models.push_back({"chat", {{"oai", "gpt-4o-mini"}, {"local", "llama"}}});
    config->tenants.push_back({.name = "acme"});
    config->keys.push_back(
        {.id = "acme-k", .sha256_hex = gateway::sha256_hex(kKey), .tenant = "acme"});
    config->policy = policies::load_policy_string(kPolicy, "policy.yaml");
    config->data_dir = dir_.path().string();
    return config;
  }
  void start() { gateway_ = std::make_unique<GatewayUnderTest>(config_ = config()); }
  void stop() { gateway_.reset(); }

  std::string create_batch(const std::string& input) {
    return sy::testing::create_batch(client_, gateway_->url(""), kKey, input);
  }
  json wait(const std::string& id) {
    return wait_for_batch(client_, gateway_->url("/v1/batches/" + id), kKey);
  }
  // custom_id -> line of the file.
  std::map<std::string, json> file_lines(const json& batch, const char* field) {
    return batch_file_lines(client_, gateway_->url(""), kKey, batch, field);
  }
  std::map<std::string, gateway::LedgerRow> ledger_rows() {
    std::map<std::string, gateway::LedgerRow> out;
    for (auto& row : gateway::read_sqlite_ledger(dir_ / "ledger.sqlite3")) {
      EXPECT_FALSE(out.contains(row.request_id)) << "billed twice: " << row.request_id;
      out[row.request_id] = row;
    }
    return out;
  }
  size_t requests_to(std::string_view target_prefix, std::string_view method = "") {
    size_t n = 0;
    for (const auto& r : vendor_.requests()) {
      n += r.target.starts_with(target_prefix) && (method.empty() || r.method == method);
    }
    return n;
  }

  // Waits (bounded) until `done` holds.
  template <typename Done>
  bool eventually(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  }
  // The job store's vendor batches (read while no gateway runs).
  std::vector<gateway::VendorBatchRecord> stored_vendor_batches() {
    gateway::SqliteBatchStore store(dir_ / "batches" / "batches.sqlite3", false);
    return store.open_vendor_batches();
  }
  // A job of three lines for `model`, whose vendor batch create is answered as `fault` does;
  // the gateway goes away with that answer never received, and starts again. Every line is
  // then in the output once, billed once at the batch price.
  struct LostAnswer {
    std::vector<gateway::VendorBatchRecord> stored;  // between the two runs
    json done;
  };
  LostAnswer lose_the_create_answer(const std::string& model, Vendor vendor, bool made,
                                    std::chrono::milliseconds delay_after_restart) {
    LostAnswer out;
    vendor_.hold_batch_create_answers(1, made);
    start();
    const std::string id =
        create_batch(chat_line("a", model, "hello") + chat_line("b", model, "hello again") +
                     chat_line("c", model, "and again"));
    const std::string create = vendor == Vendor::openai ? "/v1/batches" : "/v1/messages/batches";
    EXPECT_TRUE(eventually([&] { return requests_to(create, "POST") == 1; }));
    EXPECT_EQ(vendor_.batch_count(vendor), made ? 1u : 0u);
    stop();  // mid-call: the create's answer never arrives
    out.stored = stored_vendor_batches();
    vendor_.set_batch_delay(delay_after_restart);
    start();
    out.done = wait(id);
    EXPECT_EQ(out.done["status"], "completed") << out.done.dump();
    auto output = file_lines(out.done, "output_file_id");
    EXPECT_EQ(output.size(), 3u);
    for (const char* cid : {"a", "b", "c"}) {
      EXPECT_EQ(output[cid]["response"]["status_code"], 200) << cid;
    }
    EXPECT_TRUE(file_lines(out.done, "error_file_id").empty());
    // The vendor ran every line once: one batch of three.
    EXPECT_EQ(vendor_.batch_count(vendor), 1u);
    EXPECT_EQ(vendor_.batched_request_count(vendor), 3u);
    stop();
    auto rows = ledger_rows();  // fails on a row billed twice
    EXPECT_EQ(rows.size(), 3u);
    for (const auto& [request_id, row] : rows) {
      EXPECT_TRUE(row.price_source.ends_with("+batch")) << request_id << " " << row.price_source;
    }
    return out;
  }

  gateway::testing::TempDir dir_;
  fakes::FakeVendor vendor_;
  fakes::FakeVendor local_;
  std::shared_ptr<gateway::GatewayConfig> config_;
  std::unique_ptr<GatewayUnderTest> gateway_;
  TestHttpClient client_;
};

TEST_F(VendorBatches, RoutesLinesPerBackendToVendorBatchesAndBillsTheBatchPrice) {
  start();
  std::string input;
  for (int i = 0; i < 3; ++i) input += chat_line("oai-" + std::to_string(i), "fast", "hello there");
  for (int i = 0; i < 2; ++i) input += chat_line("ant-" + std::to_string(i), "haiku", "hi you");
  input += chat_line("gem-0", "flash", "hello gemini");
  input += chat_line("card", "chat", std::string("Refund card ") + kCard + " today");
  input += chat_line("nope", "no-such-model", "hello");
  const std::string id = create_batch(input);
  const json done = wait(id);
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["request_counts"]["completed"], 7);
  EXPECT_EQ(done["request_counts"]["failed"], 1);

  // One vendor batch per backend, with exactly the lines routed there; nothing synchronous to
  // either vendor; Gemini (no batch API) and the local line synchronous.
  EXPECT_EQ(vendor_.batch_count(Vendor::openai), 1u);
  EXPECT_EQ(vendor_.batched_request_count(Vendor::openai), 3u);
  EXPECT_EQ(vendor_.batch_count(Vendor::anthropic), 1u);
  EXPECT_EQ(vendor_.batched_request_count(Vendor::anthropic), 2u);
  EXPECT_EQ(requests_to("/v1/chat/completions"), 0u);
  EXPECT_EQ(requests_to("/v1/messages", "POST"), 1u);  // the one batch create
  EXPECT_EQ(requests_to("/v1beta/models/gemini-2.0-flash:generateContent"), 1u);
  EXPECT_EQ(local_.request_count(), 1u);
  // The restricted value reached no vendor in any form, batch upload included.
  for (const auto& r : vendor_.requests()) {
    EXPECT_EQ(r.body.find(kCard), std::string::npos) << r.target;
    EXPECT_EQ(r.body.find("4111111111111111"), std::string::npos) << r.target;
  }
  // What the vendors received: upstream model names; Anthropic's own Messages params.
  for (const auto& r : vendor_.requests()) {
    if (r.target == "/v1/files") {
      EXPECT_NE(r.body.find("\"model\":\"gpt-4o-mini\""), std::string::npos);
      EXPECT_EQ(r.body.find("\"model\":\"fast\""), std::string::npos);
    }
    if (r.target == "/v1/messages/batches" && r.method == "POST") {
      const json body = json::parse(r.body);
      ASSERT_EQ(body["requests"].size(), 2u);
      const json& params = body["requests"][0]["params"];
      EXPECT_EQ(params["model"], "claude-3-5-haiku-latest");
      EXPECT_TRUE(params["max_tokens"].is_number());
      EXPECT_EQ(params["messages"][0]["role"], "user");
      EXPECT_TRUE(body["requests"][0]["custom_id"].get<std::string>().starts_with("batch_req_"));
    }
  }

  auto output = file_lines(done, "output_file_id");
  ASSERT_EQ(output.size(), 7u);
  for (const char* cid : {"oai-0", "oai-1", "oai-2", "ant-0", "ant-1", "gem-0", "card"}) {
    ASSERT_TRUE(output.contains(cid)) << cid;
    const json& line = output[cid];
    EXPECT_EQ(line["response"]["status_code"], 200);
    EXPECT_EQ(line["response"]["body"]["object"], "chat.completion");
    EXPECT_FALSE(
        line["response"]["body"]["choices"][0]["message"]["content"].get<std::string>().empty());
  }
  EXPECT_NE(output["ant-0"]["response"]["body"]["choices"][0]["message"]["content"]
                .get<std::string>()
                .find("claude-3-5-haiku-latest"),
            std::string::npos);
  EXPECT_GT(output["ant-0"]["response"]["body"]["usage"]["prompt_tokens"], 0);
  auto errors = file_lines(done, "error_file_id");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors.contains("nope"));

  stop();
  auto rows = ledger_rows();
  ASSERT_EQ(rows.size(), 8u);
  gateway::RequestPricer pricer(*config_);
  std::map<std::string, gateway::LedgerRow> by_cid;
  for (const auto& [request_id, row] : rows) {
    const std::string index = request_id.substr(request_id.rfind('_') + 1);
    by_cid[std::vector<std::string>{"oai-0", "oai-1", "oai-2", "ant-0", "ant-1", "gem-0", "card",
                                    "nope"}[std::stoi(index)]] = row;
  }
  for (const char* cid : {"oai-0", "oai-1", "oai-2"}) {
    const gateway::LedgerRow& row = by_cid[cid];
    EXPECT_EQ(row.backend, "oai");
    EXPECT_EQ(row.model, "gpt-4o-mini");
    EXPECT_EQ(row.surface, "batch");
    EXPECT_EQ(row.volume, "bulk");
    EXPECT_EQ(row.status, gateway::LedgerStatus::ok);
    EXPECT_EQ(row.price_source, "config+batch");
    ASSERT_GT(row.usage.prompt_tokens, 0);
    // Exactly half of the synchronous price of the same tokens.
    const auto day = gateway::utc_day(std::chrono::system_clock::now());
    const int64_t sync = pricer.price("oai", "gpt-4o-mini", row.usage, day).cost;
    EXPECT_EQ(row.cost * 2, sync) << cid;
    EXPECT_EQ(row.cost, row.usage.prompt_tokens * 5 + row.usage.completion_tokens * 10);
  }
  for (const char* cid : {"ant-0", "ant-1"}) {
    EXPECT_EQ(by_cid[cid].backend, "claude");
    EXPECT_EQ(by_cid[cid].price_source, "catalog+batch");
    EXPECT_GT(by_cid[cid].usage.completion_tokens, 0);
  }
  EXPECT_EQ(by_cid["gem-0"].price_source, "catalog");  // synchronous: the normal price
  EXPECT_EQ(by_cid["card"].backend, "local");
  EXPECT_EQ(by_cid["card"].sensitivity, "restricted");
  EXPECT_EQ(by_cid["nope"].status, gateway::LedgerStatus::error);
}

TEST_F(VendorBatches, VendorSideErrorsAndExpiryGoToTheErrorFileUnbilled) {
  vendor_.set_batch_line_fault([](const std::string&, const std::string& body) {
    if (body.find("fail me") != std::string::npos) return fakes::BatchLineFault::errored;
    if (body.find("too late") != std::string::npos) return fakes::BatchLineFault::expired;
    return fakes::BatchLineFault::none;
  });
  start();
  const std::string id =
      create_batch(chat_line("ok", "fast", "hello") + chat_line("bad", "fast", "fail me") +
                   chat_line("late", "haiku", "too late") + chat_line("ok2", "haiku", "hello"));
  const json done = wait(id);
  ASSERT_EQ(done["status"], "completed") << done.dump();
  auto output = file_lines(done, "output_file_id");
  auto errors = file_lines(done, "error_file_id");
  EXPECT_EQ(output.size(), 2u);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors["bad"]["response"]["status_code"], 400);
  EXPECT_EQ(errors["late"]["response"]["status_code"], 504);
  EXPECT_EQ(errors["late"]["response"]["body"]["error"]["code"], "batch_expired");
  stop();
  auto rows = ledger_rows();
  ASSERT_EQ(rows.size(), 4u);
  int errored = 0;
  for (const auto& [request_id, row] : rows) {
    if (row.status != gateway::LedgerStatus::error) continue;
    ++errored;
    EXPECT_EQ(row.cost, 0);
    EXPECT_FALSE(row.backend.empty());
  }
  EXPECT_EQ(errored, 2);
}

TEST_F(VendorBatches, ARestartResumesPollingInsteadOfSubmittingAgain) {
  vendor_.set_batch_delay(std::chrono::seconds(60));
  start();
  const std::string id =
      create_batch(chat_line("a", "fast", "hello") + chat_line("b", "fast", "hello again"));
  // Submitted and stored: the first status poll comes after the store has the vendor's id.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (requests_to("/v1/batches/batch_fake", "GET") == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(requests_to("/v1/batches/batch_fake", "GET"), 0u);
  stop();
  EXPECT_EQ(vendor_.batch_count(Vendor::openai), 1u);

  vendor_.set_batch_delay(std::chrono::milliseconds(0));  // the vendor finished meanwhile
  start();
  const json done = wait(id);
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(file_lines(done, "output_file_id").size(), 2u);
  EXPECT_EQ(vendor_.batch_count(Vendor::openai), 1u);  // never submitted again
  EXPECT_EQ(requests_to("/v1/files", "POST"), 1u);
  stop();
  auto rows = ledger_rows();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& [request_id, row] : rows) EXPECT_EQ(row.price_source, "config+batch");
}

TEST_F(VendorBatches, ACancelReachesTheVendorAndUnansweredLinesGoToTheErrorFile) {
  vendor_.set_batch_delay(std::chrono::seconds(60));
  start();
  const std::string id =
      create_batch(chat_line("a", "haiku", "hello") + chat_line("b", "haiku", "hello again"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (vendor_.batch_count(Vendor::anthropic) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(vendor_.batch_count(Vendor::anthropic), 1u);
  TestResponse cancelled = client_.post(gateway_->url("/v1/batches/" + id + "/cancel"), "",
                                        {{"authorization", std::string("Bearer ") + kKey}});
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  const json done = wait(id);
  ASSERT_EQ(done["status"], "cancelled") << done.dump();
  EXPECT_EQ(requests_to("/v1/messages/batches/msgbatch_fake", "POST"), 1u);  // the cancel
  auto errors = file_lines(done, "error_file_id");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors["a"]["response"]["body"]["error"]["code"], "batch_cancelled");
}

TEST_F(VendorBatches, AnOpenAiBatchAcceptedButNeverAnsweredIsFoundByItsTagAfterTheRestart) {
  const LostAnswer lost =
      lose_the_create_answer("fast", Vendor::openai, /*made=*/true, std::chrono::milliseconds(0));
  // Between the runs the job store held the intent: its lines and tag, no vendor id.
  ASSERT_EQ(lost.stored.size(), 1u);
  EXPECT_EQ(lost.stored[0].vendor_batch_id, "");
  EXPECT_EQ(lost.stored[0].lines.size(), 3u);
  EXPECT_TRUE(lost.stored[0].tag.starts_with("sy-batch_")) << lost.stored[0].tag;
  EXPECT_EQ(requests_to("/v1/batches", "POST"), 1u);  // never created again
  EXPECT_GE(requests_to("/v1/batches?", "GET"), 1u);  // the listing that found it
  EXPECT_TRUE(stored_vendor_batches().empty());       // delivered: done
  // The vendor holds the tag as the batch's metadata.
  for (const auto& r : vendor_.requests()) {
    if (r.target != "/v1/batches" || r.method != "POST") continue;
    EXPECT_EQ(json::parse(r.body)["metadata"]["switchyard_tag"], lost.stored[0].tag);
  }
}

TEST_F(VendorBatches, AnAnthropicBatchAcceptedButNeverAnsweredIsWaitedForThenFound) {
  // Still running at the restart: the listing cannot tell it from another client's batch of
  // three, so the gateway asks again until it ended and its results carry our custom_ids.
  std::thread finish([this] {
    eventually([&] { return requests_to("/v1/messages/batches?", "GET") >= 3; });
    vendor_.set_batch_delay(std::chrono::milliseconds(0));
  });
  const LostAnswer lost =
      lose_the_create_answer("haiku", Vendor::anthropic, /*made=*/true, std::chrono::seconds(60));
  finish.join();
  ASSERT_EQ(lost.stored.size(), 1u);
  EXPECT_EQ(lost.stored[0].vendor_batch_id, "");
  EXPECT_EQ(requests_to("/v1/messages/batches", "POST"), 1u);
  EXPECT_GE(requests_to("/v1/messages/batches?", "GET"), 3u);
}

TEST_F(VendorBatches, ABatchTheVendorNeverReceivedIsSubmittedOnceAfterTheRestart) {
  const LostAnswer lost = lose_the_create_answer("haiku", Vendor::anthropic, /*made=*/false,
                                                 std::chrono::milliseconds(0));
  ASSERT_EQ(lost.stored.size(), 1u);
  EXPECT_EQ(lost.stored[0].vendor_batch_id, "");
  EXPECT_EQ(requests_to("/v1/messages/batches", "POST"), 2u);  // the lost one, then the one
}

TEST_F(VendorBatches, AFailedCreateIsAskedAboutBeforeItIsSubmittedAgain) {
  vendor_.fail_batch_creates(1);
  start();
  const std::string id =
      create_batch(chat_line("a", "fast", "hello") + chat_line("b", "fast", "hello again"));
  const json done = wait(id);
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(file_lines(done, "output_file_id").size(), 2u);
  EXPECT_EQ(vendor_.batch_count(Vendor::openai), 1u);
  EXPECT_EQ(requests_to("/v1/batches", "POST"), 2u);
  // Between the two creates, the vendor was asked whether the first had been made.
  std::vector<std::string> order;
  for (const auto& r : vendor_.requests()) {
    if (r.target == "/v1/batches" && r.method == "POST") order.push_back("create");
    if (r.target.starts_with("/v1/batches?")) order.push_back("list");
  }
  ASSERT_GE(order.size(), 3u);
  EXPECT_EQ(order[0], "create");
  EXPECT_EQ(order[1], "list");
  EXPECT_EQ(order[2], "create");
  stop();
  EXPECT_EQ(ledger_rows().size(), 2u);
}

}  // namespace
}  // namespace sy::testing
