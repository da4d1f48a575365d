// The SQLite ledger on its own: rows round-trip exactly, group commit under concurrent
// writers, flush and close store everything, migrations are versioned and a newer schema is
// refused, and a closed writer drops (and counts) rather than blocks.

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <thread>

#include "gateway/cli/temp_dir.h"
#include "ledger/sqlite_ledger_writer.h"

namespace sy::gateway {
namespace {

using testing::TempDir;

LedgerRow sample_row(int i) {
  LedgerRow row;
  row.time_ms = 1'763'856'000'000 + i;
  row.request_id = "req-" + std::to_string(i);
  row.tenant = "acme";
  row.key_id = "k1";
  row.surface = "openai";
  row.endpoint = "/v1/chat/completions";
  row.stream = i % 2 == 0;
  row.backend = "openai";
  row.model = "gpt-4o-mini";
  row.usage = {.prompt_tokens = 100 + i,
               .completion_tokens = 20,
               .cached_tokens = 50,
               .cache_write_tokens = 3,
               .reasoning_tokens = 7};
  row.cost = 1'234 + i;
  row.baseline_cost = 9'999;
  row.price_source = "catalog";
  row.latency_ms = 42;
  if (i % 3 == 0) row.ttft_ms = 5;
  row.status = i % 4 == 0 ? LedgerStatus::cancelled : LedgerStatus::ok;
  row.usage_estimated = row.status == LedgerStatus::cancelled;
  row.error_kind = row.status == LedgerStatus::cancelled ? "cancelled" : "";
  row.http_status = 200;
  return row;
}

TEST(SqliteLedgerWriter, StoresRowsExactlyAndReadsThemBack) {
  TempDir dir;
  const auto path = dir / "nested" / "ledger.sqlite3";  // parent directories are created
  auto ledger = open_sqlite_ledger({.path = path});
  std::vector<LedgerRow> rows;
  for (int i = 0; i < 10; ++i) {
    rows.push_back(sample_row(i));
    ASSERT_TRUE(ledger->write(rows.back()));
  }
  ledger->close();
  EXPECT_EQ(read_sqlite_ledger(path), rows);
  const LedgerStats stats = ledger->stats();
  EXPECT_EQ(stats.accepted, 10u);
  EXPECT_EQ(stats.committed, 10u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.queued, 0u);
}

TEST(SqliteLedgerWriter, FlushMakesRowsVisibleToAnotherConnection) {
  TempDir dir;
  const auto path = dir / "ledger.sqlite3";
  auto ledger = open_sqlite_ledger({.path = path});
  for (int i = 0; i < 3; ++i) ledger->write(sample_row(i));
  ledger->flush();
  EXPECT_EQ(read_sqlite_ledger(path).size(), 3u);  // while the writer is still open
  ledger->write(sample_row(3));
  ledger->flush();
  EXPECT_EQ(read_sqlite_ledger(path).size(), 4u);
}

TEST(SqliteLedgerWriter, GroupsConcurrentWritesIntoFewTransactions) {
  TempDir dir;
  const auto path = dir / "ledger.sqlite3";
  auto ledger = open_sqlite_ledger({.path = path, .max_batch = 256});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) ledger->write(sample_row(t * kPerThread + i));
    });
  }
  for (auto& thread : threads) thread.join();
  ledger->close();
  const LedgerStats stats = ledger->stats();
  EXPECT_EQ(stats.committed, static_cast<uint64_t>(kThreads * kPerThread));
  // 8000 rows, at most 256 per transaction: at least 32 transactions, and far fewer than one
  // per row (the writer commits whatever queued while the previous commit ran).
  EXPECT_GE(stats.batches, 32u);
  EXPECT_LT(stats.batches, static_cast<uint64_t>(kThreads * kPerThread) / 2);
  EXPECT_EQ(read_sqlite_ledger(path).size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(SqliteLedgerWriter, KeepsOrderWhenTheQueueHoldsMoreThanOneBatch) {
  TempDir dir;
  const auto path = dir / "ledger.sqlite3";
  // Batches of 4 against 250 rows written at once: most batches are taken from a backlog,
  // while more rows keep arriving behind it.
  auto ledger = open_sqlite_ledger({.path = path, .max_batch = 4});
  std::vector<LedgerRow> rows;
  for (int i = 0; i < 250; ++i) {
    rows.push_back(sample_row(i));
    ASSERT_TRUE(ledger->write(rows.back()));
  }
  ledger->flush();
  for (int i = 250; i < 253; ++i) {  // and the queue is used again once drained
    rows.push_back(sample_row(i));
    ASSERT_TRUE(ledger->write(rows.back()));
  }
  ledger->close();
  EXPECT_EQ(read_sqlite_ledger(path), rows);
  const LedgerStats stats = ledger->stats();
  EXPECT_EQ(stats.committed, 253u);
  EXPECT_GE(stats.batches, 64u);
  EXPECT_EQ(stats.queued, 0u);
}

TEST(SqliteLedgerWriter, DropsAndCountsWritesAfterClose) {
  TempDir dir;
  auto ledger = open_sqlite_ledger({.path = dir / "ledger.sqlite3"});
  ledger->close();
  EXPECT_FALSE(ledger->write(sample_row(1)));
  EXPECT_EQ(ledger->stats().dropped, 1u);
  ledger->close();  // idempotent
}

TEST(SqliteLedgerWriter, AppliesMigrationsOnceAndKeepsRowsAcrossReopen) {
  TempDir dir;
  const auto path = dir / "ledger.sqlite3";
  {
    auto ledger = open_sqlite_ledger({.path = path});
    ledger->write(sample_row(1));
  }  // the destructor closes (and flushes)
  EXPECT_EQ(read_sqlite_ledger_version(path), sqlite_ledger_schema_version());
  {
    auto ledger = open_sqlite_ledger({.path = path});
    ledger->write(sample_row(2));
  }
  const auto rows = read_sqlite_ledger(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].request_id, "req-1");
  EXPECT_EQ(rows[1].request_id, "req-2");
}

TEST(SqliteLedgerWriter, RefusesALedgerWrittenByANewerSchema) {
  TempDir dir;
  const auto path = dir / "ledger.sqlite3";
  open_sqlite_ledger({.path = path})->close();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  try {
    open_sqlite_ledger({.path = path});
    FAIL() << "a newer schema must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99, newer than this build's"),
              std::string::npos)
        << e.what();
  }
}

TEST(SqliteLedgerWriter, ReportsAFileThatCannotBeOpened) {
  TempDir dir;
  const auto blocker = dir.write("file", "x");  // a file where a directory is needed
  EXPECT_THROW(open_sqlite_ledger({.path = blocker / "ledger.sqlite3"}), std::runtime_error);
  const auto garbage = dir.write("garbage.sqlite3", std::string(4096, 'g'));
  EXPECT_THROW(open_sqlite_ledger({.path = garbage}), std::runtime_error);
}

}  // namespace
}  // namespace sy::gateway
