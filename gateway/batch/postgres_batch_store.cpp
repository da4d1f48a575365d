#include "batch/postgres_batch_store.h"

#include <chrono>
#include <mutex>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "ledger/postgres_session.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;

namespace {

// Migration i (1-based) brings the schema from version i-1 to i. Never edit one that shipped:
// append a new one. Columns are the SQLite store's (sqlite_batch_store.cpp); `seq` orders
// listings and comes from an identity instead of MAX(seq) + 1, which replicas would race on.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE batch_files (
  id TEXT PRIMARY KEY,
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  tenant TEXT NOT NULL,
  purpose TEXT NOT NULL,
  filename TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  lines BIGINT NOT NULL
);
CREATE INDEX batch_files_by_tenant ON batch_files (tenant, seq);
CREATE TABLE batches (
  id TEXT PRIMARY KEY,
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  tenant TEXT NOT NULL,
  key_id TEXT NOT NULL,
  input_file_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  completion_window TEXT NOT NULL,
  metadata TEXT NOT NULL,
  errors TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  in_progress_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  finalizing_at BIGINT NOT NULL,
  completed_at BIGINT NOT NULL,
  failed_at BIGINT NOT NULL,
  expired_at BIGINT NOT NULL,
  cancelling_at BIGINT NOT NULL,
  cancelled_at BIGINT NOT NULL,
  output_file_id TEXT NOT NULL,
  error_file_id TEXT NOT NULL,
  total BIGINT NOT NULL,
  completed BIGINT NOT NULL,
  failed BIGINT NOT NULL,
  tokens_in BIGINT NOT NULL,
  tokens_out BIGINT NOT NULL,
  cost_micro_usd BIGINT NOT NULL,
  output_written BOOLEAN NOT NULL
);
CREATE INDEX batches_by_tenant ON batches (tenant, seq);
CREATE INDEX batches_unfinished ON batches (seq)
  WHERE status IN ('validating', 'in_progress', 'finalizing', 'cancelling');
CREATE TABLE batch_lines (
  batch_id TEXT NOT NULL,
  line BIGINT NOT NULL,
  ok BOOLEAN NOT NULL,
  result TEXT NOT NULL,
  ledger_row TEXT NOT NULL,
  billed BOOLEAN NOT NULL,
  PRIMARY KEY (batch_id, line)
);
CREATE INDEX batch_lines_unbilled ON batch_lines (batch_id, line) WHERE NOT billed;
)sql",
    // 2: vendor batches, formerly in a SQLite file per replica (legacy_vendor_batches.h).
    R"sql(
CREATE TABLE vendor_batches (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  batch_id TEXT NOT NULL,
  backend TEXT NOT NULL,
  tag TEXT NOT NULL,
  vendor_batch_id TEXT NOT NULL,
  submitted_at_ms BIGINT NOT NULL,
  lines TEXT NOT NULL,
  cancel_sent BOOLEAN NOT NULL,
  done BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX vendor_batches_open_tag ON vendor_batches (batch_id, tag) WHERE NOT done;
CREATE INDEX vendor_batches_by_backend ON vendor_batches (backend, submitted_at_ms);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// pg_advisory_lock key for migrations: "SWYBATCH" (the ledger's is "SWYLEDGR").
constexpr const char* kMigrationLock = "6005366769220600648";

constexpr const char* kBatchColumns =
    "id, tenant, key_id, input_file_id, endpoint, completion_window, metadata, errors, status, "
    "created_at, in_progress_at, expires_at, finalizing_at, completed_at, failed_at, expired_at, "
    "cancelling_at, cancelled_at, output_file_id, error_file_id, total, completed, failed, "
    "tokens_in, tokens_out, cost_micro_usd, output_written";
constexpr const char* kFileColumns = "id, tenant, purpose, filename, bytes, created_at, lines";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

PgParam num(int64_t v) { return std::to_string(v); }
PgParam flag(bool v) { return std::string(v ? "t" : "f"); }
PgParam text(const std::string& v) { return pg_text(v); }
int64_t as_int(const PgResult& r, int row, int c) { return std::stoll(pg_value(r, row, c)); }

// A PostgreSQL array literal of text elements: {"a","b"} with quotes and backslashes escaped.
std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : pg_text(items[i])) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

FileRecord read_file(const PgResult& r, int n) {
  return FileRecord{.id = pg_value(r, n, 0),
                    .tenant = pg_value(r, n, 1),
                    .purpose = pg_value(r, n, 2),
                    .filename = pg_value(r, n, 3),
                    .bytes = as_int(r, n, 4),
                    .created_at = as_int(r, n, 5),
                    .lines = as_int(r, n, 6)};
}

BatchRecord read_batch(const PgResult& r, int n) {
  BatchRecord b;
  int i = 0;
  for (std::string* field : {&b.id, &b.tenant, &b.key_id, &b.input_file_id, &b.endpoint,
                             &b.completion_window, &b.metadata_json, &b.errors_json}) {
    *field = pg_value(r, n, i++);
  }
  b.status = batch_status_from(pg_value(r, n, i++)).value_or(BatchStatus::failed);
  for (int64_t* field :
       {&b.created_at, &b.in_progress_at, &b.expires_at, &b.finalizing_at, &b.completed_at,
        &b.failed_at, &b.expired_at, &b.cancelling_at, &b.cancelled_at}) {
    *field = as_int(r, n, i++);
  }
  b.output_file_id = pg_value(r, n, i++);
  b.error_file_id = pg_value(r, n, i++);
  for (int64_t* field :
       {&b.total, &b.completed, &b.failed, &b.tokens_in, &b.tokens_out, &b.cost_micro_usd}) {
    *field = as_int(r, n, i++);
  }
  b.output_written = pg_value(r, n, i++) == "t";
  return b;
}

void migrate(PgSession& session) {
  auto run = [&](const std::string& sql, const std::string& what,
                 const std::vector<PgParam>& params = {}) {
    auto result = session.try_exec(sql, params);
    if (!result) {
      throw std::runtime_error("batch store: PostgreSQL " + session.describe() + ": " + what +
                               ": " + session.last_error());
    }
    return std::move(*result);
  };
  // As the ledger's: the first replica migrates, the others wait on the lock and find nothing
  // left; the session lock dies with a crashed migrator's connection.
  run("SELECT pg_advisory_lock($1::bigint)", "taking the migration lock", {kMigrationLock});
  try {
    run("CREATE TABLE IF NOT EXISTS batch_schema_migrations ("
        "version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)",
        "creating the migrations table");
    const int version = std::stoi(pg_value(
        run("SELECT COALESCE(MAX(version), 0) FROM batch_schema_migrations", "reading version"), 0,
        0));
    if (version > kSchemaVersion) {
      throw std::runtime_error("batch store: PostgreSQL " + session.describe() +
                               " has schema version " + std::to_string(version) +
                               ", newer than this build's " + std::to_string(kSchemaVersion) +
                               "; upgrade switchyard");
    }
    for (int next = version + 1; next <= kSchemaVersion; ++next) {
      // Each migration and its version row commit together, so a crash leaves a known version.
      const std::string step = "migration " + std::to_string(next);
      run("BEGIN", "starting " + step);
      try {
        run(kMigrations[next - 1], step);
        run("INSERT INTO batch_schema_migrations (version, applied_ms) VALUES ($1, $2)",
            "recording " + step, {std::to_string(next), std::to_string(now_ms())});
        run("COMMIT", "committing " + step);
      } catch (...) {
        session.try_exec("ROLLBACK");
        throw;
      }
      spdlog::info("batch store: PostgreSQL {} migrated to schema version {}", session.describe(),
                   next);
    }
  } catch (...) {
    session.try_exec("SELECT pg_advisory_unlock($1::bigint)", {kMigrationLock});
    throw;
  }
  session.try_exec("SELECT pg_advisory_unlock($1::bigint)", {kMigrationLock});
}

class PostgresBatchStore final : public BatchStore {
 public:
  explicit PostgresBatchStore(const std::string& url) : session_(url) { migrate(session_); }

  backends::Status insert_file(const FileRecord& f) override {
    return command(
        std::string("INSERT INTO batch_files (") + kFileColumns +
            ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET "
            "tenant = EXCLUDED.tenant, purpose = EXCLUDED.purpose, filename = EXCLUDED.filename, "
            "bytes = EXCLUDED.bytes, created_at = EXCLUDED.created_at, lines = EXCLUDED.lines",
        "storing a file",
        {text(f.id), text(f.tenant), text(f.purpose), text(f.filename), num(f.bytes),
         num(f.created_at), num(f.lines)});
  }

  std::optional<FileRecord> file(const std::string& id) const override {
    auto r = query(std::string("SELECT ") + kFileColumns + " FROM batch_files WHERE id = $1",
                   {text(id)});
    if (!r || pg_rows(*r) == 0) return std::nullopt;
    return read_file(*r, 0);
  }

  std::vector<FileRecord> list_files(const std::string& tenant, const std::string& purpose,
                                     size_t limit, const std::string& after) const override {
    auto r = query(std::string("SELECT ") + kFileColumns +
                       " FROM batch_files WHERE tenant = $1 AND ($2 = '' OR purpose = $2) AND "
                       "seq < COALESCE((SELECT seq FROM batch_files WHERE id = $3), "
                       "9223372036854775807) ORDER BY seq DESC LIMIT $4",
                   {text(tenant), text(purpose), text(after), num(static_cast<int64_t>(limit))});
    std::vector<FileRecord> out;
    for (int n = 0; r && n < pg_rows(*r); ++n) out.push_back(read_file(*r, n));
    return out;
  }

  backends::Status delete_file(const std::string& id) override {
    return command("DELETE FROM batch_files WHERE id = $1", "deleting a file", {text(id)});
  }

  backends::Status insert_batch(const BatchRecord& b) override {
    std::vector<PgParam> params;
    for (const std::string* field : {&b.id, &b.tenant, &b.key_id, &b.input_file_id, &b.endpoint,
                                     &b.completion_window, &b.metadata_json, &b.errors_json}) {
      params.push_back(text(*field));
    }
    params.push_back(std::string(to_string(b.status)));
    for (int64_t field :
         {b.created_at, b.in_progress_at, b.expires_at, b.finalizing_at, b.completed_at,
          b.failed_at, b.expired_at, b.cancelling_at, b.cancelled_at}) {
      params.push_back(num(field));
    }
    params.push_back(text(b.output_file_id));
    params.push_back(text(b.error_file_id));
    for (int64_t field :
         {b.total, b.completed, b.failed, b.tokens_in, b.tokens_out, b.cost_micro_usd}) {
      params.push_back(num(field));
    }
    params.push_back(flag(b.output_written));
    std::string sql = std::string("INSERT INTO batches (") + kBatchColumns + ") VALUES (";
    for (size_t i = 1; i <= params.size(); ++i) {
      sql += (i > 1 ? ", $" : "$") + std::to_string(i);
    }
    return command(sql + ")", "storing a batch", params);
  }

  std::optional<BatchRecord> batch(const std::string& id) const override {
    auto r =
        query(std::string("SELECT ") + kBatchColumns + " FROM batches WHERE id = $1", {text(id)});
    if (!r || pg_rows(*r) == 0) return std::nullopt;
    return read_batch(*r, 0);
  }

  std::vector<BatchRecord> list_batches(const std::string& tenant, size_t limit,
                                        const std::string& after) const override {
    auto r = query(std::string("SELECT ") + kBatchColumns +
                       " FROM batches WHERE tenant = $1 AND seq < COALESCE((SELECT seq FROM "
                       "batches WHERE id = $2), 9223372036854775807) ORDER BY seq DESC LIMIT $3",
                   {text(tenant), text(after), num(static_cast<int64_t>(limit))});
    std::vector<BatchRecord> out;
    for (int n = 0; r && n < pg_rows(*r); ++n) out.push_back(read_batch(*r, n));
    return out;
  }

  std::vector<BatchRecord> unfinished_batches() const override {
    auto r = query(std::string("SELECT ") + kBatchColumns +
                       " FROM batches WHERE status IN ('validating', 'in_progress', "
                       "'finalizing', 'cancelling') ORDER BY seq",
                   {});
    std::vector<BatchRecord> out;
    for (int n = 0; r && n < pg_rows(*r); ++n) out.push_back(read_batch(*r, n));
    return out;
  }

  backends::Status update_batch(const BatchRecord& b) override {
    return command(
        "UPDATE batches SET status = $1, errors = $2, in_progress_at = $3, finalizing_at = $4, "
        "completed_at = $5, failed_at = $6, expired_at = $7, cancelling_at = $8, "
        "cancelled_at = $9, output_written = $10 WHERE id = $11",
        "updating a batch",
        {std::string(to_string(b.status)), text(b.errors_json), num(b.in_progress_at),
         num(b.finalizing_at), num(b.completed_at), num(b.failed_at), num(b.expired_at),
         num(b.cancelling_at), num(b.cancelled_at), flag(b.output_written), text(b.id)});
  }

  backends::Result<bool> transition(const std::string& id, std::initializer_list<BatchStatus> from,
                                    BatchStatus to, int64_t at) override {
    std::vector<std::string> names;
    for (BatchStatus s : from) names.emplace_back(to_string(s));
    auto r =
        query_or_error("UPDATE batches SET status = $1, " + std::string(status_time_column(to)) +
                           " = $2 WHERE id = $3 AND status = ANY($4::text[]) RETURNING id",
                       "changing a batch status",
                       {std::string(to_string(to)), num(at), text(id), text_array(names)});
    if (!r) return std::unexpected(r.error());
    return pg_rows(*r) > 0;
  }

  backends::Result<bool> record_line(const std::string& batch_id, const LineResult& result,
                                     const std::string& row_json, int64_t tokens_in,
                                     int64_t tokens_out, int64_t cost_micro_usd) override {
    // One statement, so one transaction: the counters move only when the line was new.
    auto r = query_or_error(
        "WITH stored AS (INSERT INTO batch_lines (batch_id, line, ok, result, ledger_row, "
        "billed) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING ok), "
        "counted AS (UPDATE batches SET completed = completed + $7, failed = failed + $8, "
        "tokens_in = tokens_in + $9, tokens_out = tokens_out + $10, "
        "cost_micro_usd = cost_micro_usd + $11 WHERE id = $1 AND EXISTS (SELECT 1 FROM stored) "
        "RETURNING id) SELECT (SELECT COUNT(*) FROM stored), (SELECT COUNT(*) FROM counted)",
        "storing a line result",
        {text(batch_id), num(result.line), flag(result.ok), text(result.json), text(row_json),
         flag(row_json.empty()), num(result.ok ? 1 : 0), num(result.ok ? 0 : 1), num(tokens_in),
         num(tokens_out), num(cost_micro_usd)});
    if (!r) return std::unexpected(r.error());
    return pg_value(*r, 0, 0) != "0";
  }

  std::set<int64_t> done_lines(const std::string& batch_id) const override {
    auto r = query("SELECT line FROM batch_lines WHERE batch_id = $1", {text(batch_id)});
    std::set<int64_t> out;
    for (int n = 0; r && n < pg_rows(*r); ++n) out.insert(as_int(*r, n, 0));
    return out;
  }

  std::vector<LineResult> results(const std::string& batch_id) const override {
    auto r = query("SELECT line, ok, result FROM batch_lines WHERE batch_id = $1 ORDER BY line",
                   {text(batch_id)});
    std::vector<LineResult> out;
    for (int n = 0; r && n < pg_rows(*r); ++n) {
      out.push_back(LineResult{
          .line = as_int(*r, n, 0), .ok = pg_value(*r, n, 1) == "t", .json = pg_value(*r, n, 2)});
    }
    return out;
  }

  std::vector<UnbilledRow> unbilled() const override {
    auto r = query(
        "SELECT batch_id, line, ledger_row FROM batch_lines WHERE NOT billed "
        "ORDER BY batch_id, line",
        {});
    std::vector<UnbilledRow> out;
    for (int n = 0; r && n < pg_rows(*r); ++n) {
      out.push_back(UnbilledRow{.batch_id = pg_value(*r, n, 0),
                                .line = as_int(*r, n, 1),
                                .row_json = pg_value(*r, n, 2)});
    }
    return out;
  }

  backends::Status mark_billed(const std::vector<std::pair<std::string, int64_t>>& lines) override {
    if (lines.empty()) return {};
    std::vector<std::string> ids;
    std::string numbers = "{";
    for (const auto& [batch_id, line] : lines) {
      ids.push_back(batch_id);
      numbers += (numbers.size() > 1 ? "," : "") + std::to_string(line);
    }
    numbers += "}";
    return command(
        "UPDATE batch_lines SET billed = true FROM unnest($1::text[], $2::bigint[]) AS m(b, l) "
        "WHERE batch_id = m.b AND line = m.l",
        "marking lines billed", {text_array(ids), numbers});
  }

  backends::Result<int64_t> insert_vendor_batch(const VendorBatchRecord& v) override {
    // One statement: the row inserted, or the open one with this (job, tag) already there (the
    // outer SELECT reads the snapshot before the insert, so it never sees both).
    auto r = query_or_error(
        "WITH inserted AS (INSERT INTO vendor_batches (batch_id, backend, tag, vendor_batch_id, "
        "submitted_at_ms, lines, cancel_sent, done) VALUES ($1, $2, $3, $4, $5, $6, $7, false) "
        "ON CONFLICT (batch_id, tag) WHERE NOT done DO NOTHING RETURNING id) "
        "SELECT id FROM inserted UNION ALL SELECT id FROM vendor_batches WHERE batch_id = $1 "
        "AND tag = $3 AND NOT done",
        "storing a vendor batch",
        {text(v.batch_id), text(v.backend), text(v.tag), text(v.vendor_batch_id),
         num(v.submitted_at_ms), text(vendor_batch_lines_to_json(v.lines)), flag(v.cancel_sent)});
    if (!r) return std::unexpected(r.error());
    if (pg_rows(*r) == 0) {
      return std::unexpected(Error{.kind = ErrorKind::internal,
                                   .message = "batch store: storing a vendor batch: a concurrent "
                                              "insert of the same tag"});
    }
    return as_int(*r, 0, 0);
  }

  backends::Status set_vendor_batch_id(int64_t id, const std::string& vendor_batch_id) override {
    return command("UPDATE vendor_batches SET vendor_batch_id = $1 WHERE id = $2",
                   "storing a vendor batch id", {text(vendor_batch_id), num(id)});
  }

  std::vector<VendorBatchRecord> open_vendor_batches() const override {
    auto r = query(
        "SELECT id, batch_id, backend, tag, vendor_batch_id, submitted_at_ms, lines, cancel_sent "
        "FROM vendor_batches WHERE NOT done ORDER BY id",
        {});
    std::vector<VendorBatchRecord> out;
    for (int n = 0; r && n < pg_rows(*r); ++n) {
      out.push_back(VendorBatchRecord{.id = as_int(*r, n, 0),
                                      .batch_id = pg_value(*r, n, 1),
                                      .backend = pg_value(*r, n, 2),
                                      .tag = pg_value(*r, n, 3),
                                      .vendor_batch_id = pg_value(*r, n, 4),
                                      .submitted_at_ms = as_int(*r, n, 5),
                                      .cancel_sent = pg_value(*r, n, 7) == "t",
                                      .lines = vendor_batch_lines_from_json(pg_value(*r, n, 6))});
    }
    return out;
  }

  std::set<std::string> vendor_batch_ids(const std::string& backend,
                                         int64_t since_ms) const override {
    auto r = query(
        "SELECT vendor_batch_id FROM vendor_batches WHERE backend = $1 AND submitted_at_ms >= $2 "
        "AND vendor_batch_id != ''",
        {text(backend), num(since_ms)});
    std::set<std::string> out;
    for (int n = 0; r && n < pg_rows(*r); ++n) out.insert(pg_value(*r, n, 0));
    return out;
  }

  backends::Status mark_vendor_batch_done(int64_t id) override {
    return command("UPDATE vendor_batches SET done = true WHERE id = $1",
                   "marking a vendor batch done", {num(id)});
  }

  backends::Status mark_vendor_batch_cancel_sent(int64_t id) override {
    return command("UPDATE vendor_batches SET cancel_sent = true WHERE id = $1",
                   "marking a vendor batch cancelled", {num(id)});
  }

 private:
  // Runs one statement; a lost connection is reconnected and the statement tried once more
  // (every statement here is idempotent or one transaction that either committed or not: a
  // record_line retried after an unacknowledged commit finds its row and reports false).
  backends::Result<PgResult> query_or_error(const std::string& sql, const std::string& what,
                                            const std::vector<PgParam>& params) const {
    std::lock_guard lock(mutex_);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!session_.connected() && !session_.reconnect()) break;
      if (auto result = session_.try_exec(sql, params)) return std::move(*result);
      if (session_.connected()) break;  // the server refused it: trying again will not help
    }
    return std::unexpected(Error{.kind = ErrorKind::internal,
                                 .message = "batch store: " + what + ": " + session_.last_error()});
  }

  std::optional<PgResult> query(const std::string& sql, const std::vector<PgParam>& params) const {
    auto r = query_or_error(sql, "reading", params);
    if (!r) {
      spdlog::error("{}", r.error().message);
      return std::nullopt;
    }
    return std::move(*r);
  }

  backends::Status command(const std::string& sql, const std::string& what,
                           const std::vector<PgParam>& params) {
    auto r = query_or_error(sql, what, params);
    if (!r) return std::unexpected(r.error());
    return {};
  }

  mutable std::mutex mutex_;
  mutable PgSession session_;
};

}  // namespace

std::unique_ptr<BatchStore> open_postgres_batch_store(const std::string& url) {
  return std::make_unique<PostgresBatchStore>(url);
}

int postgres_batch_store_schema_version() { return kSchemaVersion; }

backends::Result<std::set<std::string>> postgres_ledger_request_ids(
    const std::string& url, int64_t since_ms, const std::vector<std::string>& request_ids) {
  std::set<std::string> out;
  if (request_ids.empty()) return out;
  try {
    PgSession session(url);
    auto exists = session.try_exec("SELECT to_regclass('ledger') IS NOT NULL");
    if (!exists) {
      return backends::fail(ErrorKind::internal, "reading the ledger: " + session.last_error());
    }
    if (pg_value(*exists, 0, 0) != "t") return out;
    auto r = session.try_exec(
        "SELECT DISTINCT request_id FROM ledger WHERE time_ms >= $1 AND "
        "request_id = ANY($2::text[])",
        {std::to_string(since_ms), text_array(request_ids)});
    if (!r)
      return backends::fail(ErrorKind::internal, "reading the ledger: " + session.last_error());
    for (int n = 0; n < pg_rows(*r); ++n) out.insert(pg_value(*r, n, 0));
  } catch (const std::exception& e) {
    return backends::fail(ErrorKind::internal, e.what());
  }
  return out;
}

}  // namespace sy::gateway
