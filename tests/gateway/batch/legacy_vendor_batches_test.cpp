// The vendor batch file of earlier builds (vendor_batches.sqlite3): its open vendor batches move
// into the job store once, the file is set aside, and importing again adds nothing.

#include "batch/legacy_vendor_batches.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "batch/sqlite_batch_store.h"
#include "gateway/cli/temp_dir.h"

namespace sy::gateway {
namespace {

// A file as the earlier build wrote it: schema version 1, two open vendor batches (one with a
// cancel sent) and one done.
void write_legacy_file(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* sql = R"sql(
PRAGMA journal_mode=WAL;
CREATE TABLE vendor_batches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  batch_id TEXT NOT NULL,
  backend TEXT NOT NULL,
  vendor_batch_id TEXT NOT NULL,
  submitted_at_ms INTEGER NOT NULL,
  lines TEXT NOT NULL,
  cancel_sent INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX vendor_batches_open ON vendor_batches (done) WHERE done = 0;
PRAGMA user_version=1;
INSERT INTO vendor_batches (batch_id, backend, vendor_batch_id, submitted_at_ms, lines)
  VALUES ('batch_a', 'oai', 'vb_1', 1234,
          '[{"line":0,"custom_id":"batch_req_a_0","row":"{\"x\":1}"},{"line":7,"custom_id":"batch_req_a_7","row":"{}"}]');
INSERT INTO vendor_batches (batch_id, backend, vendor_batch_id, submitted_at_ms, lines, done)
  VALUES ('batch_a', 'oai', 'vb_old', 1000, '[]', 1);
INSERT INTO vendor_batches (batch_id, backend, vendor_batch_id, submitted_at_ms, lines,
                            cancel_sent)
  VALUES ('batch_b', 'claude', 'msgbatch_2', 2000,
          '[{"line":3,"custom_id":"batch_req_b_3","row":"{}"}]', 1);
)sql";
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

TEST(LegacyVendorBatches, OpenOnesMoveIntoTheJobStoreOnceAndTheFileIsSetAside) {
  testing::TempDir dir;
  const auto legacy = dir.path() / "vendor_batches.sqlite3";
  ASSERT_NO_FATAL_FAILURE(write_legacy_file(legacy));
  SqliteBatchStore store(dir.path() / "batches.sqlite3", false);

  EXPECT_EQ(import_legacy_vendor_batches(legacy, store), 2u);
  EXPECT_FALSE(std::filesystem::exists(legacy));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "vendor_batches.sqlite3.imported"));
  auto open = store.open_vendor_batches();
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[0].batch_id, "batch_a");
  EXPECT_EQ(open[0].backend, "oai");
  EXPECT_EQ(open[0].vendor_batch_id, "vb_1");  // never an intent: it had the vendor's id
  EXPECT_EQ(open[0].tag, "legacy-1");
  EXPECT_EQ(open[0].submitted_at_ms, 1234);
  EXPECT_FALSE(open[0].cancel_sent);
  ASSERT_EQ(open[0].lines.size(), 2u);
  EXPECT_EQ(open[0].lines[0].row_json, "{\"x\":1}");
  EXPECT_EQ(open[0].lines[1].custom_id, "batch_req_a_7");
  EXPECT_EQ(open[1].vendor_batch_id, "msgbatch_2");
  EXPECT_TRUE(open[1].cancel_sent);

  // Gone: nothing more to import.
  EXPECT_EQ(import_legacy_vendor_batches(legacy, store), 0u);
  // A crash between the import and the rename imports the same file again: nothing doubles.
  std::filesystem::rename(dir.path() / "vendor_batches.sqlite3.imported", legacy);
  EXPECT_EQ(import_legacy_vendor_batches(legacy, store), 2u);
  EXPECT_EQ(store.open_vendor_batches().size(), 2u);
}

TEST(LegacyVendorBatches, NoFileImportsNothing) {
  testing::TempDir dir;
  SqliteBatchStore store(dir.path() / "batches.sqlite3", false);
  EXPECT_EQ(import_legacy_vendor_batches(dir.path() / "vendor_batches.sqlite3", store), 0u);
  EXPECT_TRUE(store.open_vendor_batches().empty());
}

}  // namespace
}  // namespace sy::gateway
