#pragma once
// One libpq connection, for the PostgreSQL ledger's writer, reader and queries (private to
// gateway/ledger/). libpq-fe.h stays in the .cpp: its handles are forward-declared here.
//
// Secrets: a connection URL may carry a password, so nothing here logs or throws the URL;
// describe() names user@host:port/database only.
//
// Not thread-safe: one thread uses a session at a time.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct pg_conn;
struct pg_result;

namespace sy::gateway {

struct PgResultClear {
  void operator()(pg_result* result) const;
};
using PgResult = std::unique_ptr<pg_result, PgResultClear>;

// A text parameter; nullopt = SQL NULL.
using PgParam = std::optional<std::string>;

class PgSession {
 public:
  // Connects (connect_timeout 5 s unless the URL sets one; client_encoding UTF8). Throws
  // std::runtime_error naming the server, not the URL, when the connection fails. With `stop`
  // (another thread sets it), the wait for the server watches it too: once it is true the
  // attempt is abandoned within ~50 ms and the constructor throws ("interrupted").
  explicit PgSession(const std::string& url, const std::atomic<bool>* stop = nullptr);
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  // Whether the connection is up (false after the server closed it).
  bool connected() const;
  // Drops the connection and connects again with the same URL. false = still down.
  bool reconnect();
  // "user@host:port/database" for log lines.
  std::string describe() const;
  // The server's last error message, trimmed ("" when none).
  std::string last_error() const;
  // The SQLSTATE of the last failed command ("" when none or the connection failed).
  const std::string& last_sqlstate() const { return sqlstate_; }
  // Whether the last failure may pass when tried again: the connection is gone, or the server
  // said so (connection exception, shutdown, out of resources, serialization failure).
  bool last_failure_transient() const;

  // Runs `sql` with text parameters ($1...); with none, `sql` may hold several statements.
  // nullopt on failure (last_error() says why).
  std::optional<PgResult> try_exec(const std::string& sql, const std::vector<PgParam>& params = {});
  // As try_exec with parameters, but the wait for the answer watches `stop` (another thread
  // sets it): once it is true the server is sent a cancel request (again every 200 ms until it
  // answers), so the command ends within ~100 ms with SQLSTATE 57014 (query_canceled) unless
  // its answer was already on its way. The connection stays usable.
  std::optional<PgResult> try_exec(const std::string& sql, const std::vector<PgParam>& params,
                                   const std::atomic<bool>& stop);
  // As try_exec, but throws std::runtime_error("ledger: <what>: <server message>").
  PgResult exec(const std::string& sql, const std::string& what,
                const std::vector<PgParam>& params = {});

  // COPY ... FROM STDIN with `data` in text format, then waits for the command to finish.
  // false on failure (last_error() says why).
  bool copy_in(const std::string& copy_sql, const std::string& data);

  pg_conn* raw() const { return conn_.get(); }

 private:
  struct Finish {
    void operator()(pg_conn* conn) const;
  };
  void connect(const std::atomic<bool>* stop = nullptr);

  std::string url_;
  std::string connect_error_;  // why the last connect() failed, when libpq has no message
  std::unique_ptr<pg_conn, Finish> conn_;
  std::string copy_error_;
  std::string sqlstate_;
};

// Result access: row `r`, column `c` as text ("" for NULL), whether it is NULL, the row count.
std::string pg_value(const PgResult& result, int r, int c);
bool pg_is_null(const PgResult& result, int r, int c);
int pg_rows(const PgResult& result);

// Makes `text` storable in a PostgreSQL text column: NUL bytes and invalid UTF-8 become
// U+FFFD, so one bad value cannot fail a whole batch.
std::string pg_text(const std::string& text);

}  // namespace sy::gateway
