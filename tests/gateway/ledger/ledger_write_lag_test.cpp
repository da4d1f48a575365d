// The SQLite writer's write lag (LedgerStats::oldest_pending_age, exported by /metrics): it is
// positive while any accepted row is not yet stored and zero once everything is.

#include <gtest/gtest.h>

#include "gateway/cli/temp_dir.h"
#include "ledger/sqlite_ledger_writer.h"

namespace sy::gateway {
namespace {

TEST(SqliteLedgerWriteLag, IsPositiveWhileRowsWaitAndZeroOnceStored) {
  testing::TempDir dir;
  auto ledger = open_sqlite_ledger({.path = dir / "ledger.sqlite3", .max_batch = 64});
  EXPECT_EQ(ledger->stats().oldest_pending_age.count(), 0);
  LedgerRow row;
  row.request_id = "r";
  row.tenant = "acme";
  constexpr uint64_t kRows = 5000;
  for (uint64_t i = 0; i < kRows; ++i) ASSERT_TRUE(ledger->write(row));
  const LedgerStats busy = ledger->stats();
  EXPECT_EQ(busy.accepted, kRows);
  // Whatever the writer has managed so far, the lag says whether something is still pending.
  if (busy.committed + busy.failed < busy.accepted) {
    EXPECT_GT(busy.oldest_pending_age.count(), 0);
  }
  ledger->flush();
  const LedgerStats idle = ledger->stats();
  EXPECT_EQ(idle.committed, kRows);
  EXPECT_EQ(idle.queued, 0u);
  EXPECT_EQ(idle.oldest_pending_age.count(), 0);
  ledger->close();
}

}  // namespace
}  // namespace sy::gateway
