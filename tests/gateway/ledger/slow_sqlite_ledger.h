#pragma once
// A SQLite ledger whose usage query does not end on its own, for the interrupt tests: every
// read-only connection opened on the file (a LedgerQuery's) gets, through SQLite's process-wide
// auto-extension hook, a TEMP VIEW `ledger` that shadows the real table and repeats its rows
// without end, one row per millisecond. An aggregate then keeps SQLite's virtual machine
// stepping (what interrupt() must stop) over a file of one row, in bounded memory. Connections
// that write (the gateway's ledger writer) are left alone.
//
// Guard: a scan that nothing stopped fails after kGuard ("not interrupted"), so a broken
// interrupt fails its test in bounded time instead of hanging it.
//
// One at a time per process (the hook and its state are process-wide).

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

namespace sy::gateway::testing {

class SlowSqliteLedger {
 public:
  static constexpr std::chrono::seconds kGuard{30};

  // `path` must hold a `ledger` table with at least one row.
  explicit SlowSqliteLedger(std::filesystem::path path) {
    State& s = state();
    {
      std::lock_guard lock(s.mutex);
      s.path = std::move(path);
      s.deadline = std::chrono::steady_clock::now() + kGuard;
    }
    s.rows = 0;
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(&install));
  }
  ~SlowSqliteLedger() { sqlite3_cancel_auto_extension(reinterpret_cast<void (*)()>(&install)); }
  SlowSqliteLedger(const SlowSqliteLedger&) = delete;
  SlowSqliteLedger& operator=(const SlowSqliteLedger&) = delete;

  // Rows the view has produced so far (over every connection).
  int64_t rows_scanned() const { return state().rows.load(); }

  // Until a query is scanning the view (bounded by `timeout`); false if none started.
  bool wait_until_scanning(std::chrono::milliseconds timeout) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (rows_scanned() < 3) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

 private:
  struct State {
    std::mutex mutex;
    std::filesystem::path path;
    std::chrono::steady_clock::time_point deadline;
    std::atomic<int64_t> rows{0};
  };
  static State& state() {
    static State s;
    return s;
  }

  static int install(sqlite3* db, char** /*error*/, const sqlite3_api_routines* /*api*/) {
    const char* file = sqlite3_db_filename(db, "main");
    if (!file || !*file || sqlite3_db_readonly(db, "main") != 1) return SQLITE_OK;
    {
      std::lock_guard lock(state().mutex);
      std::error_code ec;
      if (!std::filesystem::equivalent(file, state().path, ec) || ec) return SQLITE_OK;
    }
    sqlite3_create_function(db, "slow_ledger_more", 0, SQLITE_UTF8, nullptr, &more, nullptr,
                            nullptr);
    // Temp objects are found before main's, so the usage query's `FROM ledger` reads this.
    sqlite3_exec(db,
                 "CREATE TEMP VIEW ledger AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
                 "SELECT i + 1 FROM n WHERE slow_ledger_more()) "
                 "SELECT l.* FROM n, main.ledger AS l",
                 nullptr, nullptr, nullptr);
    return SQLITE_OK;
  }

  static void more(sqlite3_context* context, int /*argc*/, sqlite3_value** /*argv*/) {
    State& s = state();
    ++s.rows;
    std::chrono::steady_clock::time_point deadline;
    {
      std::lock_guard lock(s.mutex);
      deadline = s.deadline;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      sqlite3_result_error(context, "slow ledger: the scan was not interrupted", -1);
      return;
    }
    // The scan's pace: slow enough that its rows stay few, while SQLite's virtual machine (and
    // with it the progress handler) keeps stepping between rows.
    ::usleep(1000);
    sqlite3_result_int(context, 1);
  }
};

}  // namespace sy::gateway::testing
