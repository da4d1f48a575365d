// LedgerQuery::interrupt() (for shutdown) stops a usage aggregate that is running, on SQLite
// (a scan that would run for kGuard, see slow_sqlite_ledger.h) and on a real PostgreSQL (a
// SELECT waiting on another session's lock), within a second; later queries on the same
// object are refused at once; the ledger itself is untouched and reads whole afterwards. A
// connection still being opened (a server that never answers) is abandoned as promptly, and
// the URL's connect_timeout still bounds it without an interrupt.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "gateway/cli/temp_dir.h"
#include "gateway/ledger/sample_rows.h"
#include "gateway/ledger/slow_sqlite_ledger.h"
#include "ledger/ledger_query.h"
#include "ledger/postgres_ledger_writer.h"
#include "ledger/postgres_session.h"
#include "ledger/sqlite_ledger_writer.h"
#include "support/postgres_server.h"

namespace sy::gateway {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::varied_row;

// Generous for a loaded 2-core machine; a missed interrupt runs for SlowSqliteLedger::kGuard
// (SQLite) or until the lock goes (PostgreSQL), far beyond it.
constexpr milliseconds kPrompt{3000};

int64_t total_requests(LedgerQuery& query) {
  const auto totals = query.aggregate({});
  return totals.empty() ? 0 : totals.front().requests;
}

TEST(LedgerQueryInterrupt, SqliteStopsARunningScanAndRefusesLaterQueries) {
  gateway::testing::TempDir dir;
  const auto path = dir / "ledger.sqlite3";
  auto writer = open_sqlite_ledger({.path = path});
  for (int i = 0; i < 3; ++i) writer->write(varied_row(i));
  writer->close();

  auto query = open_sqlite_ledger_query(path.string());
  {
    gateway::testing::SlowSqliteLedger slow(path);
    auto running = std::async(std::launch::async,
                              [&] { return query->aggregate({.group_by = UsageGroup::tenant}); });
    ASSERT_TRUE(slow.wait_until_scanning(milliseconds(5000)));
    const auto asked = steady_clock::now();
    query->interrupt();
    ASSERT_EQ(running.wait_for(kPrompt), std::future_status::ready);
    EXPECT_LT(steady_clock::now() - asked, kPrompt);
    EXPECT_THROW(running.get(), LedgerQueryInterrupted);
  }
  // Refused before any read, even of the plain file.
  const auto asked = steady_clock::now();
  EXPECT_THROW(query->aggregate({}), LedgerQueryInterrupted);
  EXPECT_LT(steady_clock::now() - asked, milliseconds(500));
  // Reads only: a fresh query finds every row.
  EXPECT_EQ(total_requests(*open_sqlite_ledger_query(path.string())), 3);
}

TEST(LedgerQueryInterrupt, SqliteQueryNotInterruptedStillAnswers) {
  gateway::testing::TempDir dir;
  const auto path = dir / "ledger.sqlite3";
  auto writer = open_sqlite_ledger({.path = path});
  writer->write(varied_row(0));
  writer->close();
  // The progress and busy handlers leave an ordinary query alone.
  auto query = open_sqlite_ledger_query(path.string());
  EXPECT_EQ(total_requests(*query), 1);
  EXPECT_EQ(total_requests(*query), 1);
}

// A TCP listener on 127.0.0.1 that never accepts: the kernel completes the handshake, so a
// PostgreSQL client connects and then waits forever for the server's first answer.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() {
    if (fd_ >= 0) ::close(fd_);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  // A URL with a password, so tests can check it never shows in an error.
  std::string url(int connect_timeout_s) const {
    return "postgresql://usage:s3cret-pw@127.0.0.1:" + std::to_string(port_) +
           "/ledger?sslmode=disable&gssencmode=disable&connect_timeout=" +
           std::to_string(connect_timeout_s);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(LedgerQueryInterrupt, PostgresConnectToASilentServerIsAbandoned) {
  SilentServer silent;
  ASSERT_NE(silent.port(), 0);
  auto query = open_postgres_ledger_query(silent.url(/*connect_timeout_s=*/60));
  auto running = std::async(std::launch::async, [&] { return query->aggregate({}); });
  // Still connecting (the server never answers): the connect_timeout is a minute away.
  ASSERT_EQ(running.wait_for(milliseconds(300)), std::future_status::timeout);
  const auto asked = steady_clock::now();
  query->interrupt();
  ASSERT_EQ(running.wait_for(kPrompt), std::future_status::ready);
  EXPECT_LT(steady_clock::now() - asked, kPrompt);
  EXPECT_THROW(running.get(), LedgerQueryInterrupted);
  EXPECT_THROW(query->aggregate({}), LedgerQueryInterrupted);
}

TEST(LedgerQueryInterrupt, PostgresConnectKeepsTheConnectTimeoutOfTheUrl) {
  SilentServer silent;
  ASSERT_NE(silent.port(), 0);
  const auto start = steady_clock::now();
  try {
    PgSession session(silent.url(/*connect_timeout_s=*/2));
    FAIL() << "connected to a server that never answers";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("timeout expired"), std::string::npos) << what;
    EXPECT_NE(what.find("127.0.0.1"), std::string::npos) << what;
    EXPECT_EQ(what.find("s3cret-pw"), std::string::npos) << what;
  }
  const auto took = steady_clock::now() - start;
  EXPECT_GE(took, milliseconds(1900));
  EXPECT_LT(took, milliseconds(2000) + kPrompt);
}

class PostgresInterrupt : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!server_.running() && server_.error().find("not found") != std::string::npos) {
      GTEST_SKIP() << server_.error();
    }
    ASSERT_TRUE(server_.running()) << server_.error();
    url_ = server_.create_database("usage_interrupt");
    ASSERT_FALSE(url_.empty()) << server_.error();
    auto writer = open_postgres_ledger({.url = url_});
    for (int i = 0; i < 5; ++i) writer->write(varied_row(i));
    writer->close();
  }

  // Until a usage SELECT waits on a lock (bounded: 5 s).
  bool usage_query_waits(bool waiting = true) {
    PgSession probe(url_);
    const auto deadline = steady_clock::now() + std::chrono::seconds(5);
    while (steady_clock::now() < deadline) {
      auto r = probe.exec(
          "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
          "AND query LIKE '%FROM ledger%'",
          "probe");
      if ((pg_value(r, 0, 0) != "0") == waiting) return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }

  sy::testing::PostgresServer server_;
  std::string url_;
};

TEST_F(PostgresInterrupt, CancelsAQueryWaitingOnALockAndRefusesLaterQueries) {
  auto query = open_postgres_ledger_query(url_);
  EXPECT_EQ(total_requests(*query), 5);  // connected, and answering, before the lock

  PgSession locker(url_);
  locker.exec("BEGIN; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE", "lock");
  auto running = std::async(std::launch::async,
                            [&] { return query->aggregate({.group_by = UsageGroup::tenant}); });
  ASSERT_TRUE(usage_query_waits());
  const auto asked = steady_clock::now();
  query->interrupt();
  ASSERT_EQ(running.wait_for(kPrompt), std::future_status::ready);
  EXPECT_LT(steady_clock::now() - asked, kPrompt);
  EXPECT_THROW(running.get(), LedgerQueryInterrupted);
  // The server stopped it too (not just the client walking away from a running SELECT).
  EXPECT_TRUE(usage_query_waits(/*waiting=*/false));
  EXPECT_THROW(query->aggregate({}), LedgerQueryInterrupted);

  locker.exec("COMMIT", "unlock");
  EXPECT_EQ(total_requests(*open_postgres_ledger_query(url_)), 5);
}

TEST_F(PostgresInterrupt, InterruptBeforeTheQueryRefusesItWithoutTouchingTheServer) {
  auto query = open_postgres_ledger_query(url_);
  query->interrupt();
  EXPECT_THROW(query->aggregate({}), LedgerQueryInterrupted);
  EXPECT_EQ(total_requests(*open_postgres_ledger_query(url_)), 5);
}

}  // namespace
}  // namespace sy::gateway
