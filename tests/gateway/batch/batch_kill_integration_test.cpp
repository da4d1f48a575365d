// Exactly-once batch output with the real binary: `switchyard serve` is killed with SIGKILL in
// the middle of a job, restarted on the same data directory, and finishes the job. Every input
// line is in the output file exactly once and the ledger has exactly one row per line, although
// lines in flight at the kill may have reached the vendor twice.

#include <gtest/gtest.h>

#include <set>

#include "fakes/fake_vendor.h"
#include "gateway/batch/batch_test_support.h"
#include "gateway/cli/temp_dir.h"
#include "ledger/sqlite_ledger_writer.h"
#include "support/serve_process.h"

namespace sy::testing {
namespace {

using nlohmann::json;

TEST(BatchKill, AJobKilledMidwayResumesWithEveryLineOnceAndBilledOnce) {
  gateway::testing::TempDir dir;
  fakes::FakeVendor fake;
  constexpr int kLines = 80;
  // Slow answers so the kill lands mid-job; lines run two at a time.
  for (int i = 0; i < kLines; ++i) {
    fake.push_script({.fault = fakes::Fault::slow_first_token, .delay_ms = 25});
  }
  const auto config = dir.write("switchyard.yaml",
                                "backends:\n"
                                "  - name: vendor\n"
                                "    protocol: openai\n"
                                "    base_url: " +
                                    fake.base_url(fakes::Vendor::openai) +
                                    "\n"
                                    "    api_key: sk-test\n"
                                    "models:\n"
                                    "  m: vendor/gpt-4o-mini\n"
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
  TestHttpClient client;
  std::string batch_id;
  {
    ServeProcess serve(args);
    ASSERT_NE(serve.port(), 0) << "switchyard serve did not start";
    std::string input;
    for (int i = 0; i < kLines; ++i) input += chat_line("line-" + std::to_string(i), "m", "hi");
    batch_id = create_batch(client, serve.url(""), "", input);
    ASSERT_FALSE(batch_id.empty());
    // Kill once a good part of the job is stored, while lines are in flight.
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
    ASSERT_LT(done, kLines) << "the job finished before the kill: nothing was shown";
  }

  ServeProcess again(args);
  ASSERT_NE(again.port(), 0) << "switchyard serve did not restart";
  json done = wait_for_batch(client, again.url("/v1/batches/" + batch_id), "");
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["request_counts"]["completed"], kLines);
  EXPECT_EQ(done["request_counts"]["failed"], 0);
  EXPECT_TRUE(done["error_file_id"].is_null());
  TestResponse out =
      client.get(again.url("/v1/files/" + done["output_file_id"].get<std::string>() + "/content"));
  std::multiset<std::string> ids;
  for (const json& line : jsonl(out.body)) ids.insert(line["custom_id"].get<std::string>());
  EXPECT_EQ(ids.size(), static_cast<size_t>(kLines));
  for (int i = 0; i < kLines; ++i) {
    EXPECT_EQ(ids.count("line-" + std::to_string(i)), 1u) << "line-" << i;
  }
  again.kill(SIGTERM);  // drains and flushes the ledger

  auto rows = gateway::read_sqlite_ledger(dir / "data" / "ledger.sqlite3");
  std::set<std::string> request_ids;
  size_t batch_rows = 0;
  for (const auto& row : rows) {
    if (row.surface != "batch") continue;
    ++batch_rows;
    request_ids.insert(row.request_id);
  }
  EXPECT_EQ(batch_rows, static_cast<size_t>(kLines)) << "each line billed exactly once";
  EXPECT_EQ(request_ids.size(), static_cast<size_t>(kLines));
  EXPECT_GE(fake.request_count(fakes::Vendor::openai), static_cast<size_t>(kLines));
}

}  // namespace
}  // namespace sy::testing
