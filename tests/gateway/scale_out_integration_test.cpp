// Scale-out with real components: a real PostgreSQL 15 (the shared ledger) and a real
// redis-server (the shared budget and rate-limit state) on 127.0.0.1 ephemeral ports, two
// `switchyard serve` replicas configured against both, and the fake vendor upstream. What holds
// across replicas: every request's ledger row lands once, a tenant's block budget and
// requests_per_minute are shared, and a replica killed with SIGKILL and started again loses no
// row of a request that completed more than the group-commit window before the kill.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "support/serve_process.h"
#include "support/redis_server.h"
#include "ledger/postgres_ledger_writer.h"
#include "support/postgres_server.h"

namespace sy::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kFreeKey[] = "sy-scale-free-key";      // tenant bulk: no limits
constexpr char kBudgetKey[] = "sy-scale-budget-key";  // tenant capped: block budget $0.01/day
constexpr char kRateKey[] = "sy-scale-rate-key";      // tenant paced: 5 requests per minute
constexpr int kRatePerMinute = 5;
constexpr backends::MicroDollars kBudgetMicroUsd = 10'000;

// Twenty words: 20 completion tokens at the fake, $0.002 at $100 per million output tokens, so
// the $0.01 budget is crossed after about five requests.
constexpr char kTwentyWords[] =
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty";

// PostgreSQL + Redis + the fake vendor + a config file; replicas are started from it.
class Cluster {
 public:
  Cluster() {
    fake_.set_default_reply(fakes::Reply{.text = kTwentyWords});
    if (!pg_.running()) return;
    pg_url_ = pg_.create_database("scale");
    if (pg_url_.empty()) return;
    // Secrets and the URL come from the environment, as in production configs.
    ::setenv("SY_SCALE_PG_URL", pg_url_.c_str(), 1);
    ::setenv("SY_SCALE_FREE_KEY", kFreeKey, 1);
    ::setenv("SY_SCALE_BUDGET_KEY", kBudgetKey, 1);
    ::setenv("SY_SCALE_RATE_KEY", kRateKey, 1);
    config_ = dir_.write("switchyard.yaml",
                         "backends:\n"
                         "  - name: vendor\n"
                         "    protocol: openai\n"
                         "    base_url: " +
                             fake_.base_url(fakes::Vendor::openai) +
                             "\n"
                             "    api_key: sk-test\n"
                             "    price_catalog: none\n"
                             "    prices:\n"
                             "      models:\n"
                             "        gpt-4o: {input: \"10\", output: \"100\"}\n"
                             "models:\n"
                             "  m: vendor/gpt-4o\n"
                             "tenants:\n"
                             "  - name: bulk\n"
                             "  - name: capped\n"
                             "  - name: paced\n"
                             "keys:\n"
                             "  - id: k-free\n"
                             "    tenant: bulk\n"
                             "    key: ${SY_SCALE_FREE_KEY}\n"
                             "  - id: k-budget\n"
                             "    tenant: capped\n"
                             "    key: ${SY_SCALE_BUDGET_KEY}\n"
                             "  - id: k-rate\n"
                             "    tenant: paced\n"
                             "    key: ${SY_SCALE_RATE_KEY}\n"
                             "budgets:\n"
                             "  - tenant: capped\n"
                             "    period: day\n"
                             "    limit_usd: \"0.01\"\n"
                             "    action: block\n"
                             "rate_limits:\n"
                             "  - tenant: paced\n"
                             "    requests_per_minute: " +
                             std::to_string(kRatePerMinute) +
                             "\n"
                             "limits:\n"
                             "  store: redis\n"
                             "  redis_url: " +
                             redis_.url() +
                             "\n"
                             "ledger:\n"
                             "  store: postgres\n"
                             "  url: ${SY_SCALE_PG_URL}\n");
  }

  bool ready(std::string* why) const {
    if (!pg_.running() || pg_url_.empty()) {
      *why = pg_.error();
      return false;
    }
    return true;
  }
  const std::string& pg_url() const { return pg_url_; }

  // Replica `index` as a child process; each has its own data dir (nothing shared on disk).
  std::unique_ptr<ServeProcess> start_replica(int index) const {
    return std::make_unique<ServeProcess>(std::vector<std::string>{
        std::string(SWITCHYARD_BINARY_DIR) + "/switchyard", "serve", "--config", config_.string(),
        "--listen", "127.0.0.1:0", "--data-dir", (dir_ / ("data" + std::to_string(index))).string(),
        "--log-level", "warn"});
  }

  // The ledger once it holds at least `count` rows (group commit is asynchronous), or what it
  // holds after `timeout`.
  std::vector<gateway::LedgerRow> rows_when(
      size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      auto rows = gateway::read_postgres_ledger(pg_url_);
      if (rows.size() >= count || Clock::now() > deadline) return rows;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

 private:
  PostgresServer pg_;
  gateway::testing::RedisServer redis_;
  fakes::FakeVendor fake_;
  gateway::testing::TempDir dir_;
  std::filesystem::path config_;
  std::string pg_url_;
};

std::string chat_url(const ServeProcess& serve) {
  return "http://127.0.0.1:" + std::to_string(serve.port()) + "/v1/chat/completions";
}

TestResponse chat(TestHttpClient& client, const ServeProcess& serve, const char* key,
                  const std::string& request_id) {
  return client.post(
      chat_url(serve), R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
      {{"authorization", std::string("Bearer ") + key}, {"x-request-id", request_id}},
      std::chrono::milliseconds(5000));
}

TEST(ScaleOut, RowsFromBothReplicasLandOnceInPostgres) {
  Cluster cluster;
  std::string why;
  ASSERT_TRUE(cluster.ready(&why)) << why;
  const auto a = cluster.start_replica(0);
  const auto b = cluster.start_replica(1);
  ASSERT_NE(a->port(), 0);
  ASSERT_NE(b->port(), 0);
  const ServeProcess* replicas[2] = {a.get(), b.get()};

  // Four clients, each alternating between the replicas.
  constexpr int kClients = 4;
  constexpr int kPerClient = 30;
  std::mutex mutex;
  std::map<std::string, int> served_by;  // request id -> replica that answered 200
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      TestHttpClient client;
      for (int i = 0; i < kPerClient; ++i) {
        const int replica = (t + i) % 2;
        const std::string id = "spread-" + std::to_string(t) + "-" + std::to_string(i);
        const TestResponse r = chat(client, *replicas[replica], kFreeKey, id);
        if (r.status != 200 || r.error) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mutex);
        served_by[id] = replica;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(served_by.size(), size_t{kClients * kPerClient});

  const auto rows = cluster.rows_when(served_by.size());
  ASSERT_EQ(rows.size(), served_by.size()) << "rows missing or extra";
  std::set<std::string> ids;
  backends::MicroDollars total = 0;
  backends::MicroDollars per_replica[2] = {0, 0};
  int count[2] = {0, 0};
  for (const auto& row : rows) {
    EXPECT_TRUE(ids.insert(row.request_id).second) << row.request_id << " recorded twice";
    const auto it = served_by.find(row.request_id);
    ASSERT_NE(it, served_by.end()) << "a row for a request never sent: " << row.request_id;
    EXPECT_EQ(row.tenant, "bulk");
    EXPECT_EQ(row.key_id, "k-free");
    EXPECT_EQ(row.status, gateway::LedgerStatus::ok);
    EXPECT_EQ(row.http_status, 200);
    EXPECT_EQ(row.usage.completion_tokens, 20);
    EXPECT_GT(row.cost, 0);
    // Identical requests at the same price cost the same on either replica.
    EXPECT_EQ(row.cost, rows.front().cost);
    total += row.cost;
    per_replica[it->second] += row.cost;
    ++count[it->second];
  }
  EXPECT_EQ(count[0], kClients * kPerClient / 2);
  EXPECT_EQ(count[1], kClients * kPerClient / 2);
  EXPECT_EQ(per_replica[0] + per_replica[1], total);
  EXPECT_EQ(total, rows.front().cost * static_cast<int64_t>(rows.size()));
}

// One tenant's block budget and another's requests_per_minute, with requests sent one at a time
// alternating between the replicas (so at most one is in flight when the budget is crossed).
TEST(ScaleOut, BudgetAndRateLimitAreSharedAcrossReplicas) {
  Cluster cluster;
  std::string why;
  ASSERT_TRUE(cluster.ready(&why)) << why;
  const auto a = cluster.start_replica(0);
  const auto b = cluster.start_replica(1);
  ASSERT_NE(a->port(), 0);
  ASSERT_NE(b->port(), 0);
  const ServeProcess* replicas[2] = {a.get(), b.get()};
  TestHttpClient client;

  // Budget: spend until refused, then a few more to see both replicas refuse.
  int admitted[2] = {0, 0};
  int refused[2] = {0, 0};
  int first_refusal = -1;
  int sent = 0;
  for (int i = 0; i < 40 && (first_refusal < 0 || i < first_refusal + 4); ++i, ++sent) {
    const int replica = i % 2;
    const TestResponse r =
        chat(client, *replicas[replica], kBudgetKey, "budget-" + std::to_string(i));
    ASSERT_FALSE(r.error) << "request " << i;
    // No pause: the spend is settled in Redis before the answer's last bytes go out, so the
    // next request, on either replica, already sees it (at most one request is in flight).
    if (r.status == 200) {
      EXPECT_LT(first_refusal, 0) << "admitted after a refusal: request " << i;
      ++admitted[replica];
    } else {
      EXPECT_EQ(r.status, 429) << r.body;
      EXPECT_NE(r.body.find("insufficient_quota"), std::string::npos) << r.body;
      if (first_refusal < 0) first_refusal = i;
      ++refused[replica];
    }
  }
  ASSERT_GE(first_refusal, 0) << "the budget was never enforced";
  EXPECT_GT(admitted[0], 0);
  EXPECT_GT(admitted[1], 0);
  EXPECT_GT(refused[0], 0) << "replica 0 did not see the spend of replica 1";
  EXPECT_GT(refused[1], 0) << "replica 1 did not see the spend of replica 0";

  // Rate limit: twice the allowance, alternating; the bucket is shared, so the allowance in all.
  int rate_ok = 0;
  int rate_refused[2] = {0, 0};
  for (int i = 0; i < 2 * kRatePerMinute + 2; ++i, ++sent) {
    const int replica = i % 2;
    const TestResponse r = chat(client, *replicas[replica], kRateKey, "rate-" + std::to_string(i));
    ASSERT_FALSE(r.error) << "request " << i;
    if (r.status == 200) {
      ++rate_ok;
    } else {
      EXPECT_EQ(r.status, 429) << r.body;
      EXPECT_NE(r.body.find("rate_limit_exceeded"), std::string::npos) << r.body;
      ++rate_refused[replica];
    }
  }
  EXPECT_LE(rate_ok, kRatePerMinute) << "the replicas did not share the rate limit";
  EXPECT_GE(rate_ok, 1);
  EXPECT_GT(rate_refused[0], 0);
  EXPECT_GT(rate_refused[1], 0);

  // The ledger: every request is a row (refusals as denied rows); the budget's overspend is at
  // most one request's cost (the one in flight when it was crossed).
  const auto rows = cluster.rows_when(static_cast<size_t>(sent));
  ASSERT_EQ(rows.size(), static_cast<size_t>(sent));
  backends::MicroDollars spent = 0;
  backends::MicroDollars dearest = 0;
  int budget_ok = 0;
  int budget_denied = 0;
  for (const auto& row : rows) {
    if (row.tenant != "capped") continue;
    if (row.status == gateway::LedgerStatus::ok) {
      ++budget_ok;
      spent += row.cost;
      dearest = std::max(dearest, row.cost);
    } else {
      ++budget_denied;
      EXPECT_EQ(row.error_kind, "budget_exceeded");
    }
  }
  EXPECT_EQ(budget_ok, admitted[0] + admitted[1]);
  EXPECT_EQ(budget_denied, refused[0] + refused[1]);
  EXPECT_GE(spent, kBudgetMicroUsd) << "refused before the budget was spent";
  EXPECT_LE(spent - kBudgetMicroUsd, dearest) << "overspent by more than one request";
  std::printf(
      "budget: limit %lld, spent %lld micro-USD over %d requests (one costs %lld); "
      "rate: %d of %d admitted at %d/min\n",
      static_cast<long long>(kBudgetMicroUsd), static_cast<long long>(spent), budget_ok,
      static_cast<long long>(dearest), rate_ok, 2 * kRatePerMinute + 2, kRatePerMinute);
}

// Replica 1 is killed with SIGKILL under load and started again while replica 0 keeps serving:
// every request that got its 200 more than the group-commit window before the kill has its
// row, and both replicas' rows after the restart land too.
TEST(ScaleOut, ReplicaRestartedMidRunLosesNoCompletedRow) {
  Cluster cluster;
  std::string why;
  ASSERT_TRUE(cluster.ready(&why)) << why;
  const auto a = cluster.start_replica(0);
  auto b = cluster.start_replica(1);
  ASSERT_NE(a->port(), 0);
  ASSERT_NE(b->port(), 0);
  // The ports clients use now; replica 1's changes when it is started again (0 while down).
  std::atomic<uint16_t> ports[2] = {a->port(), b->port()};

  // A row is committed by the transaction after the one running when it was queued; generous
  // for a loaded CI machine (as in ledger_kill_integration_test.cpp).
  constexpr auto kWindow = std::chrono::milliseconds(500);
  struct Completed {
    std::string id;
    int replica;
    int generation;  // replica 1: 0 before the kill, 1 after the restart
    Clock::time_point at;
  };
  std::mutex mutex;
  std::vector<Completed> completed;
  std::atomic<int> generation{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      TestHttpClient client;
      for (int i = 0; !stop; ++i) {
        const int replica = (t + i) % 2;
        const int gen = generation;
        const uint16_t port = ports[replica];
        if (port == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        const std::string id = "restart-" + std::to_string(t) + "-" + std::to_string(i);
        const TestResponse r = client.post(
            "http://127.0.0.1:" + std::to_string(port) + "/v1/chat/completions",
            R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
            {{"authorization", std::string("Bearer ") + kFreeKey}, {"x-request-id", id}},
            std::chrono::milliseconds(3000));
        if (r.status == 200 && !r.error) {
          std::lock_guard lock(mutex);
          completed.push_back({id, replica, replica == 1 ? gen : 0, Clock::now()});
        }
      }
    });
  }
  const auto count_where = [&](auto predicate) {
    std::lock_guard lock(mutex);
    return std::count_if(completed.begin(), completed.end(), predicate);
  };
  const auto wait_for = [&](auto predicate, long n) {
    const auto give_up = Clock::now() + std::chrono::seconds(20);
    while (count_where(predicate) < n && Clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  // Load until replica 1 has enough completions older than the window, then kill it mid-load.
  wait_for([&](const Completed& c) { return c.replica == 1 && c.at + kWindow < Clock::now(); }, 60);
  ports[1] = 0;
  const auto killed_at = Clock::now();
  b->kill();
  generation = 1;
  b = cluster.start_replica(1);
  ASSERT_NE(b->port(), 0) << "replica 1 did not start again";
  ports[1] = b->port();
  // Both replicas serve after the restart.
  wait_for([&](const Completed& c) { return c.replica == 1 && c.generation == 1; }, 30);
  stop = true;
  for (auto& c : clients) c.join();

  std::set<std::string> must;  // every id whose row cannot have been lost
  size_t old_on_killed = 0;
  size_t after_restart = 0;
  for (const auto& c : completed) {
    const bool lost_window = c.replica == 1 && c.generation == 0 && c.at + kWindow > killed_at;
    if (lost_window) continue;
    must.insert(c.id);
    if (c.replica == 1) ++(c.generation == 0 ? old_on_killed : after_restart);
  }
  EXPECT_GE(old_on_killed, 60u) << "too little load on the killed replica to show anything";
  EXPECT_GE(after_restart, 30u) << "the restarted replica did not serve";

  // Poll until every row that must be there is (commits are asynchronous), bounded.
  std::vector<gateway::LedgerRow> rows;
  std::set<std::string> stored;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  do {
    rows = cluster.rows_when(must.size());
    stored.clear();
    for (const auto& row : rows) stored.insert(row.request_id);
    if (std::includes(stored.begin(), stored.end(), must.begin(), must.end())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (Clock::now() < deadline);
  for (const auto& id : must) EXPECT_TRUE(stored.contains(id)) << id << " lost";
  EXPECT_EQ(stored.size(), rows.size()) << "a request recorded twice";
  std::printf(
      "restart: %zu completed, %zu rows, %zu must-have all present (%zu on the killed "
      "replica before the kill, %zu after its restart)\n",
      completed.size(), rows.size(), must.size(), old_on_killed, after_restart);
}

}  // namespace
}  // namespace sy::testing
