#include "batch/sqlite_batch_store.h"

#include <gtest/gtest.h>

#include "gateway/batch/batch_store_cases.h"
#include "gateway/cli/temp_dir.h"

namespace sy::gateway {
namespace {

TEST(SqliteBatchStore, StoresALineResultOnceAndCountsItOnce) {
  testing::TempDir dir;
  testing::stores_a_line_result_once_and_counts_it_once(
      [&] { return std::make_unique<SqliteBatchStore>(dir / "b.sqlite3", false); });
}

TEST(SqliteBatchStore, SurvivesReopeningAndKnowsUnfinishedJobs) {
  testing::TempDir dir;
  testing::survives_reopening_and_knows_unfinished_jobs(
      [&] { return std::make_unique<SqliteBatchStore>(dir / "b.sqlite3", false); });
}

TEST(SqliteBatchStore, KeepsVendorBatchesAndTheirIntents) {
  testing::TempDir dir;
  testing::keeps_vendor_batches_and_their_intents(
      [&] { return std::make_unique<SqliteBatchStore>(dir / "b.sqlite3", false); });
  EXPECT_EQ(SqliteBatchStore::schema_version(), 2);
}

}  // namespace
}  // namespace sy::gateway
