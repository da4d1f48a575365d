#include "ledger/postgres_ledger_writer.h"

#include <algorithm>
#include <iterator>
#include <random>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

#include "ledger/batching_ledger_writer.h"
#include "ledger/ledger_columns.h"
#include "ledger/postgres_session.h"

namespace sy::gateway {

namespace {

// Migration i (1-based) brings the schema from version i-1 to i. Never edit one that shipped:
// append a new one. Column names are the SQLite ledger's (ledger_columns.h).
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE ledger (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time_ms BIGINT NOT NULL,
  request_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  key_id TEXT NOT NULL,
  surface TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  stream BOOLEAN NOT NULL,
  backend TEXT NOT NULL,
  model TEXT NOT NULL,
  rule TEXT NOT NULL,
  sensitivity TEXT NOT NULL,
  volume TEXT NOT NULL,
  difficulty TEXT NOT NULL,
  tokens_in BIGINT NOT NULL,
  tokens_out BIGINT NOT NULL,
  tokens_cached BIGINT NOT NULL,
  tokens_cache_write BIGINT NOT NULL,
  tokens_reasoning BIGINT NOT NULL,
  usage_estimated BOOLEAN NOT NULL,
  cost_micro_usd BIGINT NOT NULL,
  baseline_cost_micro_usd BIGINT NOT NULL,
  price_source TEXT NOT NULL,
  latency_ms BIGINT NOT NULL,
  ttft_ms BIGINT,
  status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'denied', 'cancelled')),
  error_kind TEXT NOT NULL,
  http_status INTEGER NOT NULL
);
CREATE INDEX ledger_by_time ON ledger (time_ms);
CREATE INDEX ledger_by_tenant_time ON ledger (tenant, time_ms);
-- One row per committed writer batch: a batch retried after an unacknowledged COMMIT finds its
-- id here and is not stored twice.
CREATE TABLE ledger_batches (
  batch_id TEXT PRIMARY KEY,
  rows INTEGER NOT NULL,
  time_ms BIGINT NOT NULL
);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// pg_advisory_lock key for migrations: "SWYLEDGR".
constexpr const char* kMigrationLock = "6005396338591597906";

// PostgreSQL caps a statement at 65535 parameters; 27 columns x 1000 rows stays under it.
constexpr size_t kRowsPerInsert = 1000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The row's columns as text parameters, in kLedgerColumns order.
std::vector<PgParam> row_params(const LedgerRow& row) {
  auto num = [](int64_t v) { return PgParam(std::to_string(v)); };
  auto text = [](const std::string& s) { return PgParam(pg_text(s)); };
  auto flag = [](bool b) { return PgParam(b ? "t" : "f"); };
  return {num(row.time_ms),
          text(row.request_id),
          text(row.tenant),
          text(row.key_id),
          text(row.surface),
          text(row.endpoint),
          flag(row.stream),
          text(row.backend),
          text(row.model),
          text(row.rule),
          text(row.sensitivity),
          text(row.volume),
          text(row.difficulty),
          num(row.usage.prompt_tokens),
          num(row.usage.completion_tokens),
          num(row.usage.cached_tokens),
          num(row.usage.cache_write_tokens),
          num(row.usage.reasoning_tokens),
          flag(row.usage_estimated),
          num(row.cost),
          num(row.baseline_cost),
          text(row.price_source),
          num(row.latency_ms),
          row.ttft_ms ? num(*row.ttft_ms) : PgParam(),
          PgParam(std::string(to_string(row.status))),
          text(row.error_kind),
          num(row.http_status)};
}

// COPY's text format: tab-separated, \N for NULL, backslash escapes for the separators.
void append_copy_row(std::string& out, const LedgerRow& row) {
  bool first = true;
  for (const PgParam& field : row_params(row)) {
    if (!first) out.push_back('\t');
    first = false;
    if (!field) {
      out += "\\N";
      continue;
    }
    for (char c : *field) {
      switch (c) {
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          out.push_back(c);
      }
    }
  }
  out.push_back('\n');
}

std::string insert_sql(size_t rows) {
  std::string sql = std::string("INSERT INTO ledger (") + kLedgerColumns + ") VALUES ";
  int n = 0;
  for (size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ", (";
    for (int c = 0; c < kLedgerColumnCount; ++c) {
      if (c) sql += ", ";
      sql += "$" + std::to_string(++n);
    }
    sql += ")";
  }
  return sql;
}

int current_version(PgSession& session) {
  PgResult r = session.exec("SELECT COALESCE(MAX(version), 0) FROM ledger_schema_migrations",
                            "reading the schema version");
  return std::stoi(pg_value(r, 0, 0));
}

void migrate(PgSession& session) {
  // Replicas starting together: the first applies the migrations, the others wait here and
  // then find nothing left to do. A session lock dies with its connection, so a crashed
  // migrator blocks nobody.
  session.exec("SELECT pg_advisory_lock($1::bigint)", "taking the migration lock",
               {kMigrationLock});
  try {
    session.exec(
        "CREATE TABLE IF NOT EXISTS ledger_schema_migrations ("
        "version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)",
        "creating the migrations table");
    const int version = current_version(session);
    if (version > kSchemaVersion) {
      throw std::runtime_error("ledger: PostgreSQL " + session.describe() + " has schema version " +
                               std::to_string(version) + ", newer than this build's " +
                               std::to_string(kSchemaVersion) + "; upgrade switchyard");
    }
    for (int next = version + 1; next <= kSchemaVersion; ++next) {
      // Each migration and its version row commit together, so a crash leaves a known version.
      const std::string step = "migration " + std::to_string(next);
      session.exec("BEGIN", "starting " + step);
      try {
        session.exec(kMigrations[next - 1], step);
        session.exec("INSERT INTO ledger_schema_migrations (version, applied_ms) VALUES ($1, $2)",
                     "recording " + step, {std::to_string(next), std::to_string(now_ms())});
        session.exec("COMMIT", "committing " + step);
      } catch (...) {
        session.try_exec("ROLLBACK");
        throw;
      }
      spdlog::info("ledger: PostgreSQL {} migrated to schema version {}", session.describe(), next);
    }
  } catch (...) {
    session.try_exec("SELECT pg_advisory_unlock($1::bigint)", {kMigrationLock});
    throw;
  }
  session.try_exec("SELECT pg_advisory_unlock($1::bigint)", {kMigrationLock});
}

class PostgresLedgerWriter final : public BatchingLedgerWriter {
 public:
  explicit PostgresLedgerWriter(const PostgresLedgerOptions& options)
      : BatchingLedgerWriter("ledger (postgres)", options.queue_capacity, options.max_batch,
                             options.commit_interval),
        options_(options),
        session_(options.url) {
    migrate(session_);
    std::random_device random;
    writer_id_ =
        std::to_string(random()) + std::to_string(random()) + "-" + std::to_string(now_ms());
    spdlog::info("ledger: PostgreSQL {} (schema version {}, {})", session_.describe(),
                 kSchemaVersion,
                 options.method == PgInsertMethod::copy ? "COPY" : "multi-row INSERT");
    start();
  }

  ~PostgresLedgerWriter() override { close(); }

 private:
  enum class Outcome { stored, lost_connection, refused };

  bool store(const std::vector<LedgerRow>& batch) override {
    const std::string batch_id = writer_id_ + "-" + std::to_string(++batches_);
    auto backoff = options_.retry_backoff;
    std::optional<std::chrono::steady_clock::time_point> give_up;
    bool retrying = false;
    for (;;) {
      if (session_.connected() || session_.reconnect()) {
        if (retrying) spdlog::warn("ledger (postgres): connected to {}", session_.describe());
        const Outcome outcome = try_store(batch, batch_id, retrying);
        if (outcome == Outcome::stored) return true;
        if (outcome == Outcome::refused) return false;
      } else {
        failure_ = session_.last_error();
      }
      if (!retrying) {
        spdlog::warn("ledger (postgres): {} unavailable ({}); retrying {} rows",
                     session_.describe(), failure_, batch.size());
      }
      retrying = true;
      if (closing()) {
        const auto now = std::chrono::steady_clock::now();
        if (!give_up) give_up = gave_up_ ? now : now + options_.close_timeout;
        if (now >= *give_up) {
          gave_up_ = true;  // the batches still queued get one try each, not a timeout each
          spdlog::error("ledger (postgres): {} still unavailable at close; {} rows lost",
                        session_.describe(), batch.size());
          return false;
        }
        std::this_thread::sleep_for(backoff);
      } else {
        sleep_unless_closing(backoff);
      }
      count_retry();
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(2));
    }
  }

  // One transaction: the rows, then the batch's id. A transient failure (the connection, a
  // server shutdown) is retried by store(); anything else loses the batch, logged.
  Outcome try_store(const std::vector<LedgerRow>& batch, const std::string& batch_id,
                    bool retrying) {
    auto failed = [&](const char* step) {
      const bool transient = session_.last_failure_transient();
      failure_ = session_.last_error();
      const std::string state = session_.last_sqlstate();
      if (session_.connected()) session_.try_exec("ROLLBACK");
      if (transient) return Outcome::lost_connection;
      spdlog::error("ledger (postgres): {} failed: {} (SQLSTATE {}); {} rows lost", step, failure_,
                    state, batch.size());
      return Outcome::refused;
    };
    if (retrying) {
      // The previous try may have committed before its connection died.
      auto seen = session_.try_exec("SELECT 1 FROM ledger_batches WHERE batch_id = $1", {batch_id});
      if (!seen) return failed("checking the batch");
      if (pg_rows(*seen) > 0) return Outcome::stored;
    }
    if (!session_.try_exec("BEGIN")) return failed("BEGIN");
    if (options_.method == PgInsertMethod::copy) {
      std::string data;
      data.reserve(batch.size() * 256);
      for (const LedgerRow& row : batch) append_copy_row(data, row);
      if (!session_.copy_in(std::string("COPY ledger (") + kLedgerColumns + ") FROM STDIN", data)) {
        return failed("COPY");
      }
    } else {
      for (size_t begin = 0; begin < batch.size(); begin += kRowsPerInsert) {
        const size_t n = std::min(kRowsPerInsert, batch.size() - begin);
        std::vector<PgParam> params;
        params.reserve(n * kLedgerColumnCount);
        for (size_t i = begin; i < begin + n; ++i) {
          auto row = row_params(batch[i]);
          std::move(row.begin(), row.end(), std::back_inserter(params));
        }
        if (!session_.try_exec(insert_sql(n), params)) return failed("INSERT");
      }
    }
    if (!session_.try_exec(
            "INSERT INTO ledger_batches (batch_id, rows, time_ms) VALUES ($1, $2, $3)",
            {batch_id, std::to_string(batch.size()), std::to_string(now_ms())})) {
      return failed("recording the batch");
    }
    if (batches_ % std::max<uint64_t>(1, options_.prune_every) == 0) {
      const int64_t cutoff = now_ms() - options_.batch_id_retention.count();
      if (!session_.try_exec("DELETE FROM ledger_batches WHERE time_ms < $1 AND batch_id <> $2",
                             {std::to_string(cutoff), batch_id})) {
        return failed("pruning old batch ids");
      }
    }
    if (!session_.try_exec("COMMIT")) return failed("COMMIT");
    return Outcome::stored;
  }

  const PostgresLedgerOptions options_;
  PgSession session_;  // used by the writer thread only (after construction)
  std::string writer_id_;
  uint64_t batches_ = 0;
  std::string failure_;  // why the last try failed, for the log
  bool gave_up_ = false;
};

}  // namespace

int postgres_ledger_schema_version() { return kSchemaVersion; }

std::unique_ptr<LedgerWriter> open_postgres_ledger(const PostgresLedgerOptions& options) {
  return std::make_unique<PostgresLedgerWriter>(options);
}

void migrate_postgres_ledger(const std::string& url) {
  PgSession session(url);
  migrate(session);
}

std::vector<LedgerRow> read_postgres_ledger(const std::string& url) {
  PgSession session(url);
  PgResult r = session.exec(std::string("SELECT ") + kLedgerColumns + " FROM ledger ORDER BY id",
                            "reading the ledger");
  std::vector<LedgerRow> rows;
  rows.reserve(static_cast<size_t>(pg_rows(r)));
  for (int n = 0; n < pg_rows(r); ++n) {
    int i = 0;
    auto text = [&] { return pg_value(r, n, i++); };
    auto num = [&] { return std::stoll(pg_value(r, n, i++)); };
    auto flag = [&] { return pg_value(r, n, i++) == "t"; };
    LedgerRow row;
    row.time_ms = num();
    row.request_id = text();
    row.tenant = text();
    row.key_id = text();
    row.surface = text();
    row.endpoint = text();
    row.stream = flag();
    row.backend = text();
    row.model = text();
    row.rule = text();
    row.sensitivity = text();
    row.volume = text();
    row.difficulty = text();
    row.usage.prompt_tokens = num();
    row.usage.completion_tokens = num();
    row.usage.cached_tokens = num();
    row.usage.cache_write_tokens = num();
    row.usage.reasoning_tokens = num();
    row.usage_estimated = flag();
    row.cost = num();
    row.baseline_cost = num();
    row.price_source = text();
    row.latency_ms = num();
    if (!pg_is_null(r, n, i)) row.ttft_ms = std::stoll(pg_value(r, n, i));
    ++i;
    row.status = ledger_status_from(text()).value_or(LedgerStatus::error);
    row.error_kind = text();
    row.http_status = static_cast<int>(num());
    rows.push_back(std::move(row));
  }
  return rows;
}

int read_postgres_ledger_version(const std::string& url) {
  PgSession session(url);
  PgResult exists = session.exec("SELECT to_regclass('ledger_schema_migrations') IS NOT NULL",
                                 "reading the schema version");
  if (pg_value(exists, 0, 0) != "t") return 0;
  return current_version(session);
}

size_t insert_rows_one_by_one_postgres(const std::string& url, const std::vector<LedgerRow>& rows) {
  PgSession session(url);
  migrate(session);
  const std::string sql = insert_sql(1);
  size_t stored = 0;
  for (const LedgerRow& row : rows) {
    if (session.try_exec(sql, row_params(row))) ++stored;
  }
  return stored;
}

}  // namespace sy::gateway
