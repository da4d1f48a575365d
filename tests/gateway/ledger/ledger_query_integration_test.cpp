// Usage aggregates are computed by each store in SQL and agree with each other and with totals
// computed in C++ from the same rows: every group_by, time ranges (UTC days) and the tenant
// filter, on SQLite and on a real PostgreSQL.

#include <gtest/gtest.h>

#include "gateway/cli/temp_dir.h"
#include "gateway/ledger/sample_rows.h"
#include "gateway/ledger/usage_expectation.h"
#include "ledger/ledger_query.h"
#include "ledger/postgres_ledger_writer.h"
#include "ledger/sqlite_ledger_writer.h"
#include "support/postgres_server.h"

namespace sy::gateway {
namespace {

using testing::expected_usage;
using testing::varied_row;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kFirstDay = 1'763'856'000'000;  // 2025-11-23T00:00:00Z

TEST(LedgerQuery, SqliteAndPostgresAgreeWithEachOtherAndWithTheRows) {
  std::vector<LedgerRow> rows;
  for (int i = 0; i < 300; ++i) rows.push_back(varied_row(i));

  gateway::testing::TempDir dir;
  auto sqlite = open_sqlite_ledger({.path = dir / "ledger.sqlite3"});
  sy::testing::PostgresServer server;
  ASSERT_TRUE(server.running()) << server.error();
  const std::string url = server.create_database("usage");
  ASSERT_FALSE(url.empty()) << server.error();
  auto pg = open_postgres_ledger({.url = url});
  for (const auto& row : rows) {
    sqlite->write(row);
    pg->write(row);
  }
  sqlite->close();
  pg->close();

  auto from_sqlite = open_sqlite_ledger_query((dir / "ledger.sqlite3").string());
  auto from_pg = open_postgres_ledger_query(url);
  std::vector<UsageQuery> queries;
  for (UsageGroup g : {UsageGroup::none, UsageGroup::tenant, UsageGroup::key, UsageGroup::backend,
                       UsageGroup::model, UsageGroup::rule, UsageGroup::day, UsageGroup::volume,
                       UsageGroup::sensitivity}) {
    queries.push_back({.group_by = g});
    queries.push_back({.group_by = g, .from_ms = kFirstDay + kDay, .to_ms = kFirstDay + 2 * kDay});
    queries.push_back({.group_by = g, .tenant = "acme"});
    queries.push_back({.group_by = g, .from_ms = kFirstDay + kDay, .tenant = ""});
  }
  for (const UsageQuery& q : queries) {
    SCOPED_TRACE(std::string(to_string(q.group_by)) + " from " +
                 std::to_string(q.from_ms.value_or(-1)) + " to " +
                 std::to_string(q.to_ms.value_or(-1)) + " tenant " + q.tenant.value_or("*"));
    const auto expected = expected_usage(rows, q);
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(from_sqlite->aggregate(q), expected);
    EXPECT_EQ(from_pg->aggregate(q), expected);
  }
  // The rows span three UTC days; a day range selects whole days.
  const auto by_day = from_pg->aggregate({.group_by = UsageGroup::day});
  ASSERT_EQ(by_day.size(), 3u);
  EXPECT_EQ(by_day[0].group, "2025-11-23");
  EXPECT_EQ(by_day[2].group, "2025-11-25");
  // A tenant with no rows, and an empty range, have no groups.
  EXPECT_TRUE(from_pg->aggregate({.tenant = "nobody"}).empty());
  EXPECT_TRUE(from_sqlite->aggregate({.from_ms = kFirstDay + 9 * kDay}).empty());
}

TEST(LedgerQuery, AStoreWithNothingRecordedHasNoRows) {
  gateway::testing::TempDir dir;
  EXPECT_TRUE(open_sqlite_ledger_query((dir / "missing.sqlite3").string())->aggregate({}).empty());
  sy::testing::PostgresServer server;
  ASSERT_TRUE(server.running()) << server.error();
  const std::string url = server.create_database("empty");
  EXPECT_TRUE(open_postgres_ledger_query(url)->aggregate({}).empty());
}

}  // namespace
}  // namespace sy::gateway
