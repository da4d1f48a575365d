#include "ledger/postgres_session.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string_view>
#include <stdexcept>

namespace sy::gateway {

void PgResultClear::operator()(pg_result* result) const { PQclear(result); }
void PgSession::Finish::operator()(pg_conn* conn) const { PQfinish(conn); }

PgSession::PgSession(const std::string& url, const std::atomic<bool>* stop) : url_(url) {
  connect(stop);
  if (!connected()) {
    const std::string why = last_error();
    throw std::runtime_error("ledger: connecting to PostgreSQL " + describe() + ": " + why);
  }
}

PgSession::~PgSession() = default;

namespace {

// The connect_timeout libpq settled on for `conn` (the default below or the URL's), as libpq
// reads it: none (wait as long as it takes) for zero, negative or absent, at least 2 s.
std::optional<std::chrono::seconds> connect_timeout(pg_conn* conn) {
  struct FreeOptions {
    void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
  };
  std::unique_ptr<PQconninfoOption, FreeOptions> options(PQconninfo(conn));
  for (const PQconninfoOption* o = options.get(); o && o->keyword; ++o) {
    if (std::string_view(o->keyword) != "connect_timeout" || !o->val) continue;
    const long seconds = std::strtol(o->val, nullptr, 10);
    if (seconds <= 0) return std::nullopt;
    return std::chrono::seconds(std::max(seconds, 2L));
  }
  return std::nullopt;
}

}  // namespace

void PgSession::connect(const std::atomic<bool>* stop) {
  connect_error_.clear();
  // Later keywords win, so the URL (expanded from "dbname") may override the defaults before it.
  const char* keys[] = {"connect_timeout",
                        "application_name",
                        "client_encoding",
                        "keepalives",
                        "keepalives_idle",
                        "dbname",
                        nullptr};
  const char* values[] = {"5", "switchyard", "UTF8", "1", "30", url_.c_str(), nullptr};
  // Non-blocking, so the wait can watch `stop`; libpq enforces connect_timeout only in its
  // blocking connect, so the deadline is kept here.
  conn_.reset(PQconnectStartParams(keys, values, /*expand_dbname=*/1));
  if (!conn_ || PQstatus(conn_.get()) == CONNECTION_BAD) return;
  const auto timeout = connect_timeout(conn_.get());
  const auto deadline = std::chrono::steady_clock::now() +
                        timeout.value_or(std::chrono::hours(24 * 365));
  constexpr int kSliceMs = 50;
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK && state != PGRES_POLLING_FAILED) {
    // Given up: the half-open connection stays (not connected()) so describe() can name the
    // server; the destructor or the next connect() closes it.
    if (stop && stop->load()) {
      connect_error_ = "interrupted";
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      connect_error_ = "timeout expired";
      return;
    }
    pollfd ready{.fd = PQsocket(conn_.get()),
                 .events = static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT),
                 .revents = 0};
    if (ready.fd < 0) break;
    const int n = ::poll(&ready, 1, kSliceMs);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;  // a slice passed: check stop and the deadline again
    state = PQconnectPoll(conn_.get());
  }
  if (connected()) {
    // Ledger rows carry warnings nobody reads; keep them out of stderr.
    PQsetNoticeProcessor(
        conn_.get(), [](void*, const char*) {}, nullptr);
  }
}

bool PgSession::connected() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }

bool PgSession::reconnect() {
  connect();
  return connected();
}

std::string PgSession::describe() const {
  if (!conn_) return "(no connection)";
  auto text = [](const char* s) { return std::string(s ? s : ""); };
  std::string host = text(PQhost(conn_.get()));
  if (host.starts_with('/')) host = "socket " + host;
  return text(PQuser(conn_.get())) + "@" + host + ":" + text(PQport(conn_.get())) + "/" +
         text(PQdb(conn_.get()));
}

std::string PgSession::last_error() const {
  if (!copy_error_.empty()) return copy_error_;
  if (!connect_error_.empty()) return connect_error_;
  if (!conn_) return "out of memory";
  // libpq's messages span lines ("...\n\tThis probably means..."): one log line each.
  std::string message;
  for (const char* c = PQerrorMessage(conn_.get()); *c; ++c) {
    if (*c == '\n' || *c == '\t') {
      if (!message.empty() && message.back() != ' ') message.push_back(' ');
    } else {
      message.push_back(*c);
    }
  }
  while (!message.empty() && message.back() == ' ') message.pop_back();
  return message;
}

std::optional<PgResult> PgSession::try_exec(const std::string& sql,
                                            const std::vector<PgParam>& params) {
  copy_error_.clear();
  sqlstate_.clear();
  if (!conn_) return std::nullopt;
  PgResult result;
  if (params.empty()) {
    result.reset(PQexec(conn_.get(), sql.c_str()));
  } else {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
    result.reset(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, /*resultFormat=*/0));
  }
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    if (state) sqlstate_ = state;
    return std::nullopt;
  }
  return result;
}

std::optional<PgResult> PgSession::try_exec(const std::string& sql,
                                            const std::vector<PgParam>& params,
                                            const std::atomic<bool>& stop) {
  using std::chrono::steady_clock;
  copy_error_.clear();
  sqlstate_.clear();
  if (!conn_) return std::nullopt;
  pg_conn* conn = conn_.get();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (PQsendQueryParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                        nullptr, nullptr, /*resultFormat=*/0) != 1) {
    return std::nullopt;
  }
  // The answer is awaited in slices rather than in one blocking PQgetResult, so `stop` is seen
  // within a slice. A cancel request that reaches the server before it started the command is
  // ignored by the server, hence the repeats until the answer comes.
  constexpr int kSliceMs = 50;
  constexpr auto kCancelEvery = std::chrono::milliseconds(200);
  steady_clock::time_point next_cancel{};
  struct FreeCancel {
    void operator()(PGcancel* cancel) const { PQfreeCancel(cancel); }
  };
  while (PQisBusy(conn)) {
    if (stop.load() && steady_clock::now() >= next_cancel) {
      std::unique_ptr<PGcancel, FreeCancel> cancel(PQgetCancel(conn));
      char why[256];
      if (cancel) PQcancel(cancel.get(), why, sizeof why);
      next_cancel = steady_clock::now() + kCancelEvery;
    }
    pollfd ready{.fd = PQsocket(conn), .events = POLLIN, .revents = 0};
    if (ready.fd < 0) break;
    if (::poll(&ready, 1, kSliceMs) < 0 && errno != EINTR) break;
    // A lost connection ends the wait: PQgetResult below then reports it.
    if (PQconsumeInput(conn) != 1) break;
  }
  // Every result is read, so the connection is ready for the next command; the first failure
  // (or else the last result) is the answer.
  PgResult answer;
  bool failed = false;
  while (PgResult r{PQgetResult(conn)}) {
    const ExecStatusType status = PQresultStatus(r.get());
    if (failed) continue;
    failed = status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK;
    answer = std::move(r);
    if (!connected()) break;
  }
  if (!answer || failed) {
    const char* state = answer ? PQresultErrorField(answer.get(), PG_DIAG_SQLSTATE) : nullptr;
    if (state) sqlstate_ = state;
    return std::nullopt;
  }
  return answer;
}

PgResult PgSession::exec(const std::string& sql, const std::string& what,
                         const std::vector<PgParam>& params) {
  auto result = try_exec(sql, params);
  if (!result) throw std::runtime_error("ledger: " + what + ": " + last_error());
  return std::move(*result);
}

bool PgSession::last_failure_transient() const {
  if (!connected()) return true;
  // Classes 08 connection exception, 40 transaction rollback, 53 insufficient resources,
  // 57 operator intervention (shutdown, cannot connect now), 58 system (I/O) error.
  for (const char* cls : {"08", "40", "53", "57", "58"}) {
    if (sqlstate_.starts_with(cls)) return true;
  }
  return false;
}

bool PgSession::copy_in(const std::string& copy_sql, const std::string& data) {
  copy_error_.clear();
  sqlstate_.clear();
  if (!conn_) return false;
  PgResult start(PQexec(conn_.get(), copy_sql.c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) {
    const char* state = start ? PQresultErrorField(start.get(), PG_DIAG_SQLSTATE) : nullptr;
    if (state) sqlstate_ = state;
    return false;
  }
  bool sent = PQputCopyData(conn_.get(), data.data(), static_cast<int>(data.size())) == 1;
  if (PQputCopyEnd(conn_.get(), sent ? nullptr : "client failed to send") != 1) sent = false;
  bool ok = sent;
  // Drain every result so the connection is ready for the next command.
  while (PgResult r{PQgetResult(conn_.get())}) {
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      ok = false;
      copy_error_ = PQresultErrorMessage(r.get());
      if (const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE)) sqlstate_ = state;
      while (!copy_error_.empty() && copy_error_.back() == '\n') copy_error_.pop_back();
    }
    if (!connected()) break;
  }
  return ok;
}

std::string pg_value(const PgResult& result, int r, int c) {
  if (PQgetisnull(result.get(), r, c)) return "";
  return std::string(PQgetvalue(result.get(), r, c),
                     static_cast<size_t>(PQgetlength(result.get(), r, c)));
}

bool pg_is_null(const PgResult& result, int r, int c) {
  return PQgetisnull(result.get(), r, c) != 0;
}

int pg_rows(const PgResult& result) { return PQntuples(result.get()); }

std::string pg_text(const std::string& text) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    size_t len = 0;
    uint32_t min = 0;
    if (c == 0) {
      len = 0;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000;
    }
    bool valid = len > 0 && i + len <= n;
    uint32_t cp = len > 0 ? c & (0xFF >> (len + 1)) : 0;
    for (size_t k = 1; valid && k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) valid = false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    valid = valid && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (valid) {
      out.append(text, i, len);
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

}  // namespace sy::gateway
