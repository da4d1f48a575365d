// BatchService's restart repair: ledger rows stored with their line results (the outbox) but
// perhaps not committed by the ledger before a crash are written on resume only when the
// SQLite ledger lacks them, so every line is billed exactly once.

#include "batch/batch_service.h"

#include <gtest/gtest.h>

#include <map>

#include "batch/ledger_row_json.h"
#include "batch/sqlite_batch_store.h"
#include "gateway/cli/temp_dir.h"
#include "ledger/sqlite_ledger_writer.h"

namespace sy::gateway {
namespace {

LedgerRow row(const std::string& request_id) {
  LedgerRow r;
  r.time_ms = 1'700'000'000'000;
  r.request_id = request_id;
  r.tenant = "acme";
  r.surface = "batch";
  r.endpoint = "/v1/chat/completions";
  r.usage.prompt_tokens = 3;
  r.usage.completion_tokens = 4;
  r.cost = 9;
  return r;
}

TEST(BatchServiceRepair, WritesOnlyTheOutboxRowsTheLedgerLacks) {
  testing::TempDir dir;
  const auto ledger_path = dir / "ledger.sqlite3";
  std::shared_ptr<LedgerWriter> ledger = open_sqlite_ledger({.path = ledger_path});
  // The crash came after the ledger committed line 0 but before it was marked billed, and
  // before the ledger committed line 1.
  ledger->write(row("batch_req_x_0"));
  ledger->flush();
  {
    SqliteBatchStore store(dir / "batches" / "batches.sqlite3", false);
    BatchRecord done{.id = "batch_x", .tenant = "acme", .status = BatchStatus::completed};
    ASSERT_TRUE(store.insert_batch(done).has_value());
    for (int line : {0, 1}) {
      LineResult result{.line = line, .ok = true, .json = "{}"};
      ASSERT_TRUE(store
                      .record_line("batch_x", result,
                                   ledger_row_to_json(row("batch_req_x_" + std::to_string(line))),
                                   3, 4, 9)
                      .value());
    }
  }
  int executed = 0;
  {
    BatchService service(
        {.dir = dir / "batches", .ledger_path = ledger_path},
        [&](BatchLineRequest, std::function<void(BatchLineOutcome)>) {
          ++executed;  // a completed job runs nothing
        },
        ledger);
    service.resume();
    service.close();
  }
  ledger->close();
  std::map<std::string, int> count;
  for (const auto& r : read_sqlite_ledger(ledger_path)) ++count[r.request_id];
  EXPECT_EQ(count, (std::map<std::string, int>{{"batch_req_x_0", 1}, {"batch_req_x_1", 1}}));
  EXPECT_EQ(executed, 0);
  // Marked billed: a second restart writes nothing more.
  SqliteBatchStore store(dir / "batches" / "batches.sqlite3", false);
  EXPECT_TRUE(store.unbilled().empty());
}

TEST(BatchServiceRepair, LedgerRowsSurviveTheJsonRoundTrip) {
  LedgerRow r = row("id-1");
  r.ttft_ms = 12;
  r.status = LedgerStatus::error;
  r.error_kind = "not_found";
  r.http_status = 404;
  r.usage.cached_tokens = 2;
  EXPECT_EQ(ledger_row_from_json(ledger_row_to_json(r)), r);
  EXPECT_FALSE(ledger_row_from_json("{\"time_ms\":1}").has_value());
}

}  // namespace
}  // namespace sy::gateway
