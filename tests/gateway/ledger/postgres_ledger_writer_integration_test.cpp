// The PostgreSQL ledger against a real PostgreSQL 15 (tests/support/postgres_server.h): rows
// round-trip exactly as SQLite's do, by COPY and by multi-row INSERT; group commit; migrations
// from empty, idempotent on restart and safe when replicas start at once; a connection
// terminated mid-run (pg_terminate_backend) loses and duplicates no accepted row; a server that
// is down never blocks write() and costs only counted drops.

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "gateway/cli/temp_dir.h"
#include "gateway/ledger/sample_rows.h"
#include "ledger/postgres_ledger_writer.h"
#include "ledger/sqlite_ledger_writer.h"
#include "support/postgres_server.h"

namespace sy::gateway {
namespace {

using Clock = std::chrono::steady_clock;
using testing::varied_row;

class PostgresLedger : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new sy::testing::PostgresServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(server_->running()) << server_->error();
    static int counter = 0;
    url_ = server_->create_database("ledger_" + std::to_string(counter++));
    ASSERT_FALSE(url_.empty()) << server_->error();
  }

  // Terminates every ledger session (application_name switchyard) from outside.
  void terminate_ledger_sessions() {
    ASSERT_EQ(server_->psql("postgres",
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = 'switchyard'"),
              0);
  }

  static sy::testing::PostgresServer* server_;
  std::string url_;
};

sy::testing::PostgresServer* PostgresLedger::server_ = nullptr;

std::vector<LedgerRow> rows(int n, int from = 0) {
  std::vector<LedgerRow> out;
  for (int i = from; i < from + n; ++i) out.push_back(varied_row(i));
  return out;
}

TEST_F(PostgresLedger, RowsRoundTripIdenticallyToSqliteByCopyAndByInsert) {
  std::vector<LedgerRow> expected = rows(40);
  // Text COPY must escape its separators; UTF-8 passes through.
  expected[1].model = "tab\there\nnewline\\backslash\r";
  expected[2].rule = "règle-ü-日本";
  testing::TempDir dir;
  auto sqlite = open_sqlite_ledger({.path = dir / "ledger.sqlite3"});
  for (const auto& row : expected) sqlite->write(row);
  sqlite->close();
  const auto from_sqlite = read_sqlite_ledger(dir / "ledger.sqlite3");
  EXPECT_EQ(from_sqlite, expected);

  for (PgInsertMethod method : {PgInsertMethod::copy, PgInsertMethod::multi_row_insert}) {
    const std::string url = server_->create_database(
        method == PgInsertMethod::copy ? "round_trip_copy" : "round_trip_insert");
    ASSERT_FALSE(url.empty()) << server_->error();
    auto pg = open_postgres_ledger({.url = url, .method = method});
    for (const auto& row : expected) ASSERT_TRUE(pg->write(row));
    pg->close();
    EXPECT_EQ(pg->stats().committed, expected.size());
    EXPECT_EQ(read_postgres_ledger(url), from_sqlite);
  }
}

TEST_F(PostgresLedger, ABadValueDoesNotFailItsBatch) {
  auto pg = open_postgres_ledger({.url = url_});
  LedgerRow bad = varied_row(1);
  bad.model = std::string("nul\0inside", 10) + "\xff";  // PostgreSQL text takes neither
  pg->write(varied_row(0));
  pg->write(bad);
  pg->write(varied_row(2));
  pg->close();
  const auto stored = read_postgres_ledger(url_);
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[1].model, "nul\xEF\xBF\xBDinside\xEF\xBF\xBD");
  EXPECT_EQ(stored[2], varied_row(2));
}

TEST_F(PostgresLedger, GroupsConcurrentWritesIntoFewTransactions) {
  for (PgInsertMethod method : {PgInsertMethod::copy, PgInsertMethod::multi_row_insert}) {
    const std::string url =
        server_->create_database(method == PgInsertMethod::copy ? "group_copy" : "group_insert");
    auto ledger = open_postgres_ledger({.url = url, .max_batch = 2'500, .method = method});
    constexpr int kThreads = 4;
    constexpr int kPerThread = 2'000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) ledger->write(varied_row(t * kPerThread + i));
      });
    }
    for (auto& thread : threads) thread.join();
    ledger->close();
    const LedgerStats stats = ledger->stats();
    EXPECT_EQ(stats.committed, static_cast<uint64_t>(kThreads * kPerThread));
    // 8000 rows, at most 2500 per transaction (the INSERT path splits one into 1000-row
    // statements): at least 4 transactions, far fewer than one per row.
    EXPECT_GE(stats.batches, 4u);
    EXPECT_LT(stats.batches, static_cast<uint64_t>(kThreads * kPerThread) / 4);
    const auto stored = read_postgres_ledger(url);
    std::set<std::string> ids;
    for (const auto& row : stored) ids.insert(row.request_id);
    EXPECT_EQ(stored.size(), static_cast<size_t>(kThreads * kPerThread));
    EXPECT_EQ(ids.size(), stored.size());
  }
}

TEST_F(PostgresLedger, MigratesFromEmptyAndRestartsIdempotently) {
  EXPECT_EQ(read_postgres_ledger_version(url_), 0);
  {
    auto ledger = open_postgres_ledger({.url = url_});
    ledger->write(varied_row(1));
  }  // the destructor closes (and flushes)
  EXPECT_EQ(read_postgres_ledger_version(url_), postgres_ledger_schema_version());
  {
    auto ledger = open_postgres_ledger({.url = url_});
    ledger->write(varied_row(2));
  }
  EXPECT_EQ(read_postgres_ledger_version(url_), postgres_ledger_schema_version());
  const auto stored = read_postgres_ledger(url_);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0], varied_row(1));
  EXPECT_EQ(stored[1], varied_row(2));
}

TEST_F(PostgresLedger, ReplicasStartingAtOnceMigrateOnce) {
  constexpr int kReplicas = 6;
  std::atomic<int> failures{0};
  std::vector<std::thread> replicas;
  for (int r = 0; r < kReplicas; ++r) {
    replicas.emplace_back([&, r] {
      try {
        auto ledger = open_postgres_ledger({.url = url_});
        ledger->write(varied_row(r));
        ledger->close();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "replica " << r << ": " << e.what();
        ++failures;
      }
    });
  }
  for (auto& r : replicas) r.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(read_postgres_ledger(url_).size(), static_cast<size_t>(kReplicas));
  // One row per migration, not one per replica.
  EXPECT_EQ(server_->psql(url_.substr(url_.rfind('/') + 1),
                          "DO $$ BEGIN IF (SELECT count(*) FROM ledger_schema_migrations) <> " +
                              std::to_string(postgres_ledger_schema_version()) +
                              " THEN RAISE EXCEPTION 'migrated twice'; END IF; END $$"),
            0);
}

TEST_F(PostgresLedger, RefusesASchemaNewerThanThisBuild) {
  migrate_postgres_ledger(url_);
  ASSERT_EQ(server_->psql(url_.substr(url_.rfind('/') + 1),
                          "INSERT INTO ledger_schema_migrations VALUES (99, 0)"),
            0);
  try {
    open_postgres_ledger({.url = url_});
    FAIL() << "a newer schema was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresLedger, ATerminatedConnectionLosesAndDuplicatesNoAcceptedRow) {
  auto ledger = open_postgres_ledger({.url = url_, .max_batch = 200});
  constexpr int kRows = 6'000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kRows; ++i) {
      ASSERT_TRUE(ledger->write(varied_row(i)));
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    done = true;
  });
  // Kill the writer's connection again and again while rows flow.
  int kills = 0;
  while (!done) {
    terminate_ledger_sessions();
    ++kills;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  writer.join();
  terminate_ledger_sessions();  // once more with rows possibly still queued
  ledger->close();
  const LedgerStats stats = ledger->stats();
  EXPECT_EQ(stats.accepted, static_cast<uint64_t>(kRows));
  EXPECT_EQ(stats.committed, static_cast<uint64_t>(kRows));
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_GE(stats.retries, 1u) << "no kill hit a batch (" << kills << " kills)";
  const auto stored = read_postgres_ledger(url_);
  std::set<std::string> ids;
  for (const auto& row : stored) ids.insert(row.request_id);
  EXPECT_EQ(stored.size(), static_cast<size_t>(kRows));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRows)) << "a row stored twice or lost";
}

TEST_F(PostgresLedger, OldBatchIdsArePruned) {
  auto ledger = open_postgres_ledger(
      {.url = url_, .batch_id_retention = std::chrono::milliseconds(0), .prune_every = 1});
  for (int i = 0; i < 5; ++i) {
    ledger->write(varied_row(i));
    ledger->flush();  // one batch each
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ledger->close();
  EXPECT_EQ(ledger->stats().batches, 5u);
  EXPECT_EQ(read_postgres_ledger(url_).size(), 5u);
  // Each batch deleted the ids before it: only the last one is left.
  EXPECT_EQ(server_->psql(url_.substr(url_.rfind('/') + 1),
                          "DO $$ BEGIN IF (SELECT count(*) FROM ledger_batches) <> 1 "
                          "THEN RAISE EXCEPTION 'not pruned'; END IF; END $$"),
            0);
}

TEST_F(PostgresLedger, ADownServerNeverBlocksWritesAndDropsAreCounted) {
  sy::testing::PostgresServer doomed;
  ASSERT_TRUE(doomed.running()) << doomed.error();
  auto ledger = open_postgres_ledger({.url = doomed.url(),
                                      .queue_capacity = 100,
                                      .close_timeout = std::chrono::milliseconds(300)});
  doomed.stop();
  const auto start = Clock::now();
  int accepted = 0;
  for (int i = 0; i < 1'000; ++i) accepted += ledger->write(varied_row(i)) ? 1 : 0;
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(500)) << "write() waited";
  // The queue holds 100; the writer holds one batch it keeps retrying.
  EXPECT_LE(accepted, 200);
  EXPECT_GE(ledger->stats().dropped, 800u);
  // The write lag (for /metrics) grows while nothing can be stored.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE(ledger->stats().oldest_pending_age, std::chrono::milliseconds(50));
  ledger->close();  // gives up after close_timeout
  EXPECT_EQ(ledger->stats().oldest_pending_age, std::chrono::nanoseconds(0));
  const LedgerStats stats = ledger->stats();
  EXPECT_EQ(stats.committed, 0u);
  EXPECT_EQ(stats.failed, static_cast<uint64_t>(accepted));
  EXPECT_EQ(stats.accepted + stats.dropped, 1'000u);
}

}  // namespace
}  // namespace sy::gateway
