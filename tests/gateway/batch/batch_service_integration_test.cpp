// BatchService's restart repair: ledger rows stored with their line results (the outbox) but
// perhaps not committed by the ledger before a crash are written on resume only when the
// SQLite ledger lacks them, so every line is billed exactly once.

#include "batch/batch_service.h"

#include <gtest/gtest.h>

#include <map>

#include "batch/ledger_row_json.h"
#include "batch/sqlite_batch_store.h"
#include "gateway/batch/batch_store_cases.h"
#include "gateway/cli/temp_dir.h"
#include "ledger/sqlite_ledger_writer.h"

namespace sy::gateway {
namespace {

TEST(BatchServiceRepair, WritesOnlyTheOutboxRowsTheLedgerLacks) {
  testing::TempDir dir;
  const auto ledger_path = dir / "ledger.sqlite3";
  std::shared_ptr<LedgerWriter> ledger = open_sqlite_ledger({.path = ledger_path});
  {
    SqliteBatchStore store(dir / "batches" / "batches.sqlite3", false);
    ASSERT_NO_FATAL_FAILURE(testing::store_crash_window(store, *ledger));
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
  LedgerRow r = testing::batch_line_row("id-1");
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
