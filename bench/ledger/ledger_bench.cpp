// Sustained ledger rows/s into SQLite: the asynchronous group-commit writer against a plain
// INSERT loop (one autocommit transaction per row, what a naive writer does), same rows, same
// file settings (WAL, synchronous=normal unless --full), in the same run. Also the time the
// request path spends in write() (enqueue only), p50/p99.
//
//   build/bench_ledger [--rows 200000] [--plain-rows 20000] [--threads 4] [--full] [--dir DIR]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ledger/sqlite_ledger_writer.h"

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

}  // namespace

int main(int argc, char** argv) {
  int rows = 200'000;
  int plain_rows = 20'000;
  int threads = 4;
  bool full = false;
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
    else {
      std::fprintf(stderr,
                   "usage: bench_ledger [--rows N] [--plain-rows N] [--threads N] "
                   "[--full] [--dir DIR]\n");
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
  std::vector<std::vector<LedgerRow>> prepared(threads);
  for (int i = 0; i < rows; ++i) prepared[i % threads].push_back(row(i));
  auto ledger = sy::gateway::open_sqlite_ledger({.path = dir / "async.sqlite3",
                                                 .queue_capacity = static_cast<size_t>(rows),
                                                 .synchronous_full = full});
  std::vector<std::vector<double>> enqueue_ns(threads);
  const auto async_start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto& samples = enqueue_ns[t];
      samples.reserve(prepared[t].size());
      for (auto& r : prepared[t]) {
        const auto before = Clock::now();
        ledger->write(std::move(r));
        samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - before).count());
      }
    });
  }
  for (auto& w : workers) w.join();
  ledger->close();  // every row committed
  const double async_s = seconds_since(async_start);
  const auto stats = ledger->stats();

  std::vector<double> all;
  for (auto& s : enqueue_ns) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[static_cast<size_t>(p * (all.size() - 1))];
  };

  const double plain_rate = stored / plain_s;
  const double async_rate = stats.committed / async_s;
  std::printf("synchronous=%s, %d writer threads\n", full ? "full" : "normal", threads);
  std::printf("plain INSERT loop : %8zu rows in %6.2f s = %9.0f rows/s\n", stored, plain_s,
              plain_rate);
  std::printf(
      "async group commit: %8llu rows in %6.2f s = %9.0f rows/s  (%llu transactions, "
      "%.0f rows each; dropped %llu)\n",
      static_cast<unsigned long long>(stats.committed), async_s, async_rate,
      static_cast<unsigned long long>(stats.batches),
      stats.batches ? static_cast<double>(stats.committed) / stats.batches : 0.0,
      static_cast<unsigned long long>(stats.dropped));
  std::printf("ratio async/plain: %.1fx; write() on the request path: p50 %.2f us, p99 %.2f us\n",
              async_rate / plain_rate, pct(0.50) / 1000, pct(0.99) / 1000);
  std::printf("target: >= 20000 rows/s sustained: %s\n", async_rate >= 20'000 ? "met" : "NOT met");
  std::filesystem::remove_all(dir);
  return 0;
}
