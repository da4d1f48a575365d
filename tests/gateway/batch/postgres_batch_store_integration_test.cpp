// Batch jobs on PostgreSQL (a real PostgreSQL 15, tests/support/postgres_server.h): the same
// store cases as SQLite; the restart repair asks the PostgreSQL ledger which outbox rows it
// has and writes only the missing ones; and `switchyard serve` with `ledger: {store: postgres}`
// killed with SIGKILL mid-job resumes it from PostgreSQL, every line once in the output and
// billed once in the PostgreSQL ledger. Vendor batches live there too: a gateway killed after
// Anthropic accepted a batch and before its id was stored finds that batch after the restart
// (no second submit), every line once in the output and billed once.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "batch/batch_service.h"
#include "batch/ledger_row_json.h"
#include "batch/postgres_batch_store.h"
#include "fakes/fake_vendor.h"
#include "gateway/batch/batch_store_cases.h"
#include "gateway/batch/batch_test_support.h"
#include "gateway/cli/temp_dir.h"
#include "ledger/postgres_ledger_writer.h"
#include "support/postgres_server.h"
#include "support/serve_process.h"

namespace sy::gateway {
namespace {

using nlohmann::json;

class PostgresBatchStore : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new sy::testing::PostgresServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->running()) << server_->error();
    static int counter = 0;
    url_ = server_->create_database("batch_" + std::to_string(counter++));
    ASSERT_FALSE(url_.empty()) << server_->error();
  }
  testing::OpenStore opener() const {
    return [url = url_] { return open_postgres_batch_store(url); };
  }

  static sy::testing::PostgresServer* server_;
  std::string url_;
};

sy::testing::PostgresServer* PostgresBatchStore::server_ = nullptr;

TEST_F(PostgresBatchStore, StoresALineResultOnceAndCountsItOnce) {
  testing::stores_a_line_result_once_and_counts_it_once(opener());
}

TEST_F(PostgresBatchStore, SurvivesReopeningAndKnowsUnfinishedJobs) {
  testing::survives_reopening_and_knows_unfinished_jobs(opener());
  EXPECT_EQ(postgres_batch_store_schema_version(), 2);
}

TEST_F(PostgresBatchStore, KeepsVendorBatchesAndTheirIntents) {
  testing::keeps_vendor_batches_and_their_intents(opener());
}

TEST_F(PostgresBatchStore, RestartRepairWritesOnlyTheRowsThePostgresLedgerLacks) {
  testing::TempDir dir;
  std::shared_ptr<LedgerWriter> ledger = open_postgres_ledger({.url = url_});
  ASSERT_NO_FATAL_FAILURE(testing::store_crash_window(*open_postgres_batch_store(url_), *ledger));
  const std::string url = url_;
  {
    BatchService service(
        {.dir = dir / "batches",
         .postgres_url = url_,
         .ledger_lookup =
             [url](int64_t since, const std::vector<std::string>& ids) {
               return postgres_ledger_request_ids(url, since, ids);
             }},
        [](BatchLineRequest, std::function<void(BatchLineOutcome)>) {}, ledger);
    service.resume();
    service.close();
  }
  ledger->close();
  std::map<std::string, int> count;
  for (const auto& r : read_postgres_ledger(url_)) ++count[r.request_id];
  EXPECT_EQ(count, (std::map<std::string, int>{{"batch_req_x_0", 1}, {"batch_req_x_1", 1}}));
  EXPECT_TRUE(open_postgres_batch_store(url_)->unbilled().empty());
}

TEST_F(PostgresBatchStore, AJobKilledMidwayResumesFromPostgresBilledOnce) {
  testing::TempDir dir;
  sy::fakes::FakeVendor fake;
  constexpr int kLines = 60;
  for (int i = 0; i < kLines; ++i) {
    fake.push_script({.fault = sy::fakes::Fault::slow_first_token, .delay_ms = 25});
  }
  const auto config = dir.write("switchyard.yaml",
                                "backends:\n"
                                "  - name: vendor\n"
                                "    protocol: openai\n"
                                "    base_url: " +
                                    fake.base_url(sy::fakes::Vendor::openai) +
                                    "\n"
                                    "    api_key: sk-test\n"
                                    "models:\n"
                                    "  m: vendor/gpt-4o-mini\n"
                                    "ledger:\n"
                                    "  store: postgres\n"
                                    "  url: " +
                                    url_ +
                                    "\n"
                                    "batch:\n"
                                    "  max_concurrency_per_job: 2\n");
  const std::vector<std::string> args = {std::string(SWITCHYARD_BINARY_DIR) + "/switchyard",
                                         "serve",
                                         "--config",
                                         config.string(),
                                         "--listen",
                                         "127.0.0.1:0",
                                         "--data-dir",
                                         (dir / "data").string(),
                                         "--log-level",
                                         "warn"};
  sy::testing::TestHttpClient client;
  std::string batch_id;
  {
    sy::testing::ServeProcess serve(args);
    ASSERT_NE(serve.port(), 0) << "switchyard serve did not start";
    std::string input;
    for (int i = 0; i < kLines; ++i) {
      input += sy::testing::chat_line("line-" + std::to_string(i), "m", "hi");
    }
    batch_id = sy::testing::create_batch(client, serve.url(""), "", input);
    ASSERT_FALSE(batch_id.empty());
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int64_t done = 0;
    while (std::chrono::steady_clock::now() < give_up) {
      json b = json::parse(client.get(serve.url("/v1/batches/" + batch_id)).body, nullptr, false);
      done = b.is_object() ? b["request_counts"]["completed"].get<int64_t>() : 0;
      if (done >= kLines / 3) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_GE(done, kLines / 3);
    serve.kill(SIGKILL);
    ASSERT_LT(done, kLines) << "the job finished before the kill";
  }
  // The job's state is in PostgreSQL, not in a SQLite file under the data directory.
  EXPECT_FALSE(std::filesystem::exists(dir / "data" / "batches" / "batches.sqlite3"));
  EXPECT_TRUE(open_postgres_batch_store(url_)->batch(batch_id).has_value());

  sy::testing::ServeProcess again(args);
  ASSERT_NE(again.port(), 0) << "switchyard serve did not restart";
  json done = sy::testing::wait_for_batch(client, again.url("/v1/batches/" + batch_id), "");
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["request_counts"]["completed"], kLines);
  auto out =
      client.get(again.url("/v1/files/" + done["output_file_id"].get<std::string>() + "/content"));
  std::multiset<std::string> ids;
  for (const json& line : sy::testing::jsonl(out.body)) {
    ids.insert(line["custom_id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kLines));
  for (int i = 0; i < kLines; ++i) {
    EXPECT_EQ(ids.count("line-" + std::to_string(i)), 1u) << "line-" << i;
  }
  again.kill(SIGTERM);  // drains and flushes the ledger

  std::map<std::string, int> billed;
  for (const auto& r : read_postgres_ledger(url_)) {
    if (r.surface == "batch") ++billed[r.request_id];
  }
  EXPECT_EQ(billed.size(), static_cast<size_t>(kLines));
  for (const auto& [id, n] : billed) EXPECT_EQ(n, 1) << id << " billed " << n << " times";
}

TEST_F(PostgresBatchStore, AGatewayKilledBeforeStoringAVendorsBatchIdFindsItAfterTheRestart) {
  testing::TempDir dir;
  sy::fakes::FakeVendor fake;
  fake.set_batch_delay(std::chrono::milliseconds(40));
  fake.hold_batch_create_answers(1, /*made=*/true);  // accepted; the answer never comes
  const auto config = dir.write("switchyard.yaml",
                                "backends:\n"
                                "  - name: claude\n"
                                "    protocol: anthropic\n"
                                "    base_url: " +
                                    fake.base_url(sy::fakes::Vendor::anthropic) +
                                    "\n"
                                    "    api_key: sk-test\n"
                                    "    batch_api: {enabled: true, poll_initial_ms: 10, "
                                    "poll_max_ms: 40}\n"
                                    "models:\n"
                                    "  haiku: claude/claude-3-5-haiku-latest\n"
                                    "ledger:\n"
                                    "  store: postgres\n"
                                    "  url: " +
                                    url_ + "\n");
  const std::vector<std::string> args = {std::string(SWITCHYARD_BINARY_DIR) + "/switchyard",
                                         "serve",
                                         "--config",
                                         config.string(),
                                         "--listen",
                                         "127.0.0.1:0",
                                         "--data-dir",
                                         (dir / "data").string(),
                                         "--log-level",
                                         "warn"};
  constexpr int kLines = 3;
  sy::testing::TestHttpClient client;
  std::string batch_id;
  {
    sy::testing::ServeProcess serve(args);
    ASSERT_NE(serve.port(), 0) << "switchyard serve did not start";
    std::string input;
    for (int i = 0; i < kLines; ++i) {
      input += sy::testing::chat_line("line-" + std::to_string(i), "haiku", "hi");
    }
    batch_id = sy::testing::create_batch(client, serve.url(""), "", input);
    ASSERT_FALSE(batch_id.empty());
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (fake.batch_count(sy::fakes::Vendor::anthropic) == 0 &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(fake.batch_count(sy::fakes::Vendor::anthropic), 1u);
    serve.kill(SIGKILL);  // between the vendor's accept and our write of its id
  }
  // What the restart has to go on: an intent in PostgreSQL, no per-replica file.
  auto intents = open_postgres_batch_store(url_)->open_vendor_batches();
  ASSERT_EQ(intents.size(), 1u);
  EXPECT_EQ(intents[0].vendor_batch_id, "");
  EXPECT_EQ(intents[0].lines.size(), static_cast<size_t>(kLines));
  EXPECT_FALSE(std::filesystem::exists(dir / "data" / "batches" / "vendor_batches.sqlite3"));

  sy::testing::ServeProcess again(args);
  ASSERT_NE(again.port(), 0) << "switchyard serve did not restart";
  json done = sy::testing::wait_for_batch(client, again.url("/v1/batches/" + batch_id), "");
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["request_counts"]["completed"], kLines);
  auto out =
      client.get(again.url("/v1/files/" + done["output_file_id"].get<std::string>() + "/content"));
  std::multiset<std::string> ids;
  for (const json& line : sy::testing::jsonl(out.body)) {
    ids.insert(line["custom_id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kLines));
  for (int i = 0; i < kLines; ++i) {
    EXPECT_EQ(ids.count("line-" + std::to_string(i)), 1u) << "line-" << i;
  }
  // The vendor ran every line once: one batch, one create.
  EXPECT_EQ(fake.batch_count(sy::fakes::Vendor::anthropic), 1u);
  EXPECT_EQ(fake.batched_request_count(sy::fakes::Vendor::anthropic), static_cast<size_t>(kLines));
  size_t creates = 0;
  for (const auto& r : fake.requests()) {
    creates += r.method == "POST" && r.target == "/v1/messages/batches";
  }
  EXPECT_EQ(creates, 1u);
  again.kill(SIGTERM);  // drains and flushes the ledger

  std::map<std::string, int> billed;
  for (const auto& r : read_postgres_ledger(url_)) {
    if (r.surface == "batch") ++billed[r.request_id];
  }
  EXPECT_EQ(billed.size(), static_cast<size_t>(kLines));
  for (const auto& [id, n] : billed) EXPECT_EQ(n, 1) << id << " billed " << n << " times";
  EXPECT_TRUE(open_postgres_batch_store(url_)->open_vendor_batches().empty());
}

}  // namespace
}  // namespace sy::gateway
