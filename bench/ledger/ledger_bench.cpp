// Sustained ledger rows/s into SQLite: the asynchronous group-commit writer against a plain
// INSERT loop (one autocommit transaction per row, what a naive writer does), same rows, same
// file settings (WAL, synchronous=normal unless --full), in the same run. Also the time the
// request path spends in write() (enqueue only), p50/p99.
//
// With --postgres (a throw-away PostgreSQL 15 on 127.0.0.1, fsync on, started like the tests')
// or --pg-url URL, the same for PostgreSQL: the plain INSERT loop, then the asynchronous writer
// by COPY and by multi-row INSERT, each into a fresh database.
//
//   build/bench_ledger [--rows 200000] [--plain-rows 20000] [--threads 4] [--full] [--dir DIR]
//                      [--postgres | --pg-url URL] [--pg-rows 200000] [--pg-plain-rows 5000]
//                      [--paced 5000] [--paced-seconds 4]
// --paced R: then rows at R/s from one thread, the gateway's regime, for commit intervals of
// 0, 1, 5 and 20 ms: the writer thread's CPU time per row (load-robust) and rows per commit.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ledger/postgres_ledger_writer.h"
#include "ledger/sqlite_ledger_writer.h"
#include "support/postgres_server.h"

namespace {

using Clock = std::chrono::steady_clock;
using sy::gateway::LedgerRow;

LedgerRow row(int i) {
  LedgerRow r;
  r.time_ms = 1'763'856'000'000 + i;
  r.request_id = "bench-" + std::to_string(i);
  r.tenant = "tenant-" + std::to_string(i % 16);
  r.key_id = "key-" + std::to_string(i % 64);
  r.surface = "openai";
  r.endpoint = "/v1/chat/completions";
  r.stream = i % 2 == 0;
  r.backend = "openai";
  r.model = "gpt-4o-mini";
  r.usage = {.prompt_tokens = 500 + i % 100, .completion_tokens = 200, .cached_tokens = 128};
  r.cost = 195;
  r.baseline_cost = 3'250;
  r.price_source = "catalog";
  r.latency_ms = 350;
  r.ttft_ms = 120;
  r.http_status = 200;
  return r;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct AsyncRun {
  sy::gateway::LedgerStats stats;
  double seconds = 0;
  std::vector<double> enqueue_ns;  // sorted
  double rate() const { return seconds > 0 ? stats.committed / seconds : 0; }
  double pct(double p) const {
    return enqueue_ns.empty() ? 0.0 : enqueue_ns[static_cast<size_t>(p * (enqueue_ns.size() - 1))];
  }
};

// `threads` request threads enqueue `rows` rows as fast as they can; close() waits until every
// row is committed.
AsyncRun run_async(sy::gateway::LedgerWriter& ledger, int rows, int threads) {
  std::vector<std::vector<LedgerRow>> prepared(threads);
  for (int i = 0; i < rows; ++i) prepared[i % threads].push_back(row(i));
  std::vector<std::vector<double>> enqueue_ns(threads);
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto& samples = enqueue_ns[t];
      samples.reserve(prepared[t].size());
      for (auto& r : prepared[t]) {
        const auto before = Clock::now();
        ledger.write(std::move(r));
        samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - before).count());
      }
    });
  }
  for (auto& w : workers) w.join();
  ledger.close();
  AsyncRun run;
  run.seconds = seconds_since(start);
  run.stats = ledger.stats();
  for (auto& s : enqueue_ns) run.enqueue_ns.insert(run.enqueue_ns.end(), s.begin(), s.end());
  std::sort(run.enqueue_ns.begin(), run.enqueue_ns.end());
  return run;
}

void print_async(const char* label, const AsyncRun& run, double plain_rate) {
  std::printf(
      "%s: %8llu rows in %6.2f s = %9.0f rows/s  (%llu transactions, %.0f rows each; dropped "
      "%llu)\n",
      label, static_cast<unsigned long long>(run.stats.committed), run.seconds, run.rate(),
      static_cast<unsigned long long>(run.stats.batches),
      run.stats.batches ? static_cast<double>(run.stats.committed) / run.stats.batches : 0.0,
      static_cast<unsigned long long>(run.stats.dropped));
  std::printf("  ratio to plain: %.1fx; write() on the request path: p50 %.2f us, p99 %.2f us\n",
              run.rate() / plain_rate, run.pct(0.50) / 1000, run.pct(0.99) / 1000);
}

// CPU time the ledger's writer thread ("sy-ledger") has run so far, in seconds (the
// scheduler's nanosecond count, /proc/self/task/TID/schedstat); 0 when there is none.
double writer_thread_cpu_seconds() {
  double ns = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    char name[64] = {};
    if (std::FILE* f = std::fopen((task.path() / "comm").c_str(), "r")) {
      if (!std::fgets(name, sizeof(name), f)) name[0] = '\0';
      std::fclose(f);
    }
    if (std::string(name) != "sy-ledger\n") continue;
    if (std::FILE* f = std::fopen((task.path() / "schedstat").c_str(), "r")) {
      unsigned long long run_ns = 0;
      if (std::fscanf(f, "%llu", &run_ns) == 1) ns += static_cast<double>(run_ns);
      std::fclose(f);
    }
  }
  return ns / 1e9;
}

// A gateway's regime: rows arrive at `rate` per second (one request thread) for `seconds`; the
// writer's CPU per row is what the ledger costs the machine (load-robust: CPU time, not wall
// time), for each commit interval.
void bench_paced(const std::filesystem::path& dir, int rate, double seconds, bool full) {
  std::printf("\nSQLite, rows paced at %d/s for %.0f s (one request thread), by commit interval\n",
              rate, seconds);
  for (const int interval_us : {0, 1'000, 5'000, 20'000}) {
    const auto path = dir / ("paced-" + std::to_string(interval_us) + ".sqlite3");
    auto ledger = sy::gateway::open_sqlite_ledger(
        {.path = path, .synchronous_full = full,
         .commit_interval = std::chrono::microseconds(interval_us)});
    const int rows = static_cast<int>(rate * seconds);
    const double cpu_before = writer_thread_cpu_seconds();
    const auto start = Clock::now();
    for (int i = 0; i < rows; ++i) {
      std::this_thread::sleep_until(start + std::chrono::nanoseconds(
                                                static_cast<int64_t>(1e9 * i / rate)));
      ledger->write(row(i));
    }
    ledger->flush();
    const double cpu = writer_thread_cpu_seconds() - cpu_before;
    const auto stats = ledger->stats();
    ledger->close();
    std::printf("  commit interval %5.1f ms: writer thread %6.2f us CPU/row, %6.1f rows per "
                "transaction\n",
                interval_us / 1000.0, 1e6 * cpu / std::max<uint64_t>(1, stats.committed),
                stats.batches ? static_cast<double>(stats.committed) / stats.batches : 0.0);
  }
}

// PostgreSQL: plain loop, then COPY and multi-row INSERT group commit, each in a fresh database
// (`fresh_url(name)`).
void bench_postgres(const std::function<std::string(const std::string&)>& fresh_url, int rows,
                    int plain_rows, int threads) {
  std::vector<LedgerRow> plain;
  for (int i = 0; i < plain_rows; ++i) plain.push_back(row(i));
  const std::string plain_url = fresh_url("bench_plain");
  sy::gateway::migrate_postgres_ledger(plain_url);
  const auto plain_start = Clock::now();
  const size_t stored = sy::gateway::insert_rows_one_by_one_postgres(plain_url, plain);
  const double plain_rate = stored / seconds_since(plain_start);
  std::printf("\nPostgreSQL, %d writer threads\n", threads);
  std::printf("plain INSERT loop      : %8zu rows = %9.0f rows/s\n", stored, plain_rate);
  for (auto method :
       {sy::gateway::PgInsertMethod::copy, sy::gateway::PgInsertMethod::multi_row_insert}) {
    const bool copy = method == sy::gateway::PgInsertMethod::copy;
    auto ledger =
        sy::gateway::open_postgres_ledger({.url = fresh_url(copy ? "bench_copy" : "bench_insert"),
                                           .queue_capacity = static_cast<size_t>(rows),
                                           .method = method});
    const AsyncRun run = run_async(*ledger, rows, threads);
    print_async(copy ? "async group commit COPY" : "async multi-row INSERT ", run, plain_rate);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int rows = 200'000;
  int plain_rows = 20'000;
  int threads = 4;
  bool full = false;
  bool start_postgres = false;
  std::string pg_url;
  int pg_rows = 200'000;
  int pg_plain_rows = 5'000;
  int paced_rate = 0;
  double paced_seconds = 4;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "switchyard_bench_ledger";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--rows")
      rows = std::atoi(next().c_str());
    else if (arg == "--plain-rows")
      plain_rows = std::atoi(next().c_str());
    else if (arg == "--threads")
      threads = std::max(1, std::atoi(next().c_str()));
    else if (arg == "--full")
      full = true;
    else if (arg == "--dir")
      dir = next();
    else if (arg == "--postgres")
      start_postgres = true;
    else if (arg == "--pg-url")
      pg_url = next();
    else if (arg == "--pg-rows")
      pg_rows = std::atoi(next().c_str());
    else if (arg == "--pg-plain-rows")
      pg_plain_rows = std::atoi(next().c_str());
    else if (arg == "--paced")
      paced_rate = std::atoi(next().c_str());
    else if (arg == "--paced-seconds")
      paced_seconds = std::atof(next().c_str());
    else {
      std::fprintf(stderr,
                   "usage: bench_ledger [--rows N] [--plain-rows N] [--threads N] "
                   "[--full] [--dir DIR] [--postgres | --pg-url URL] [--pg-rows N] "
                   "[--pg-plain-rows N] [--paced ROWS_PER_S] [--paced-seconds S]\n");
      return 2;
    }
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  // Plain INSERT loop: one transaction per row.
  std::vector<LedgerRow> plain;
  for (int i = 0; i < plain_rows; ++i) plain.push_back(row(i));
  const auto plain_start = Clock::now();
  const size_t stored = sy::gateway::insert_rows_one_by_one(dir / "plain.sqlite3", plain, full);
  const double plain_s = seconds_since(plain_start);

  // Asynchronous writer, `threads` request threads enqueueing as fast as they can.
  auto ledger = sy::gateway::open_sqlite_ledger({.path = dir / "async.sqlite3",
                                                 .queue_capacity = static_cast<size_t>(rows),
                                                 .synchronous_full = full});
  const AsyncRun run = run_async(*ledger, rows, threads);
  const double plain_rate = stored / plain_s;
  std::printf("SQLite, synchronous=%s, %d writer threads\n", full ? "full" : "normal", threads);
  std::printf("plain INSERT loop      : %8zu rows in %6.2f s = %9.0f rows/s\n", stored, plain_s,
              plain_rate);
  print_async("async group commit     ", run, plain_rate);
  std::printf("target: >= 20000 rows/s sustained: %s\n", run.rate() >= 20'000 ? "met" : "NOT met");
  if (paced_rate > 0) bench_paced(dir, paced_rate, paced_seconds, full);

  if (start_postgres || !pg_url.empty()) {
    std::unique_ptr<sy::testing::PostgresServer> server;
    if (start_postgres) {
      server = std::make_unique<sy::testing::PostgresServer>(
          sy::testing::PostgresServer::Options{.fsync = true});
      if (!server->running()) {
        std::fprintf(stderr, "postgres: %s\n", server->error().c_str());
        return 1;
      }
    }
    // An existing server's database is shared by the three runs (its rows accumulate).
    bench_postgres(
        [&](const std::string& name) { return server ? server->create_database(name) : pg_url; },
        pg_rows, pg_plain_rows, threads);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
