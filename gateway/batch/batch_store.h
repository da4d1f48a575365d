#pragma once
// The durable state of the Files and Batch APIs: file records, batch jobs and each job's
// per-line results. Two stores, chosen with the ledger's: SQLite (one file, WAL; the default,
// sqlite_batch_store.h) and PostgreSQL (postgres_batch_store.h, for replicas sharing one
// database), each with numbered migrations like the ledger's.
//
// Exactly-once output: a line's result is stored under the primary key (batch, line), so a
// line that runs twice (its first result was lost to a crash before it was committed) is
// stored once; record_line says whether this call stored it. The line's ledger row is stored
// with its result (an outbox) and marked billed once the ledger has committed it, so a crash
// between the two is repaired on restart without billing twice (see BatchService).
//
// Vendor batches (vendor_batch_runner.h) live here too, so with PostgreSQL they follow a job to
// whichever replica resumes it. A vendor batch is stored as an intent (no vendor id yet)
// BEFORE the vendor is asked, and given the vendor's id once it answered: a crash in between
// leaves an intent that a restart reconciles with the vendor (by its tag) instead of
// submitting the lines blindly again.
//
// Contract of every implementation: thread-safe; errors are std::runtime_error with context
// when opening (load time) and backends::Error afterwards (data plane).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "switchyard/backends/error.h"

namespace sy::gateway {

struct FileRecord {
  std::string id;  // "file-..."
  std::string tenant;
  std::string purpose;  // "batch" (uploads), "batch_output" (results and errors)
  std::string filename;
  int64_t bytes = 0;
  int64_t created_at = 0;  // Unix seconds
  int64_t lines = 0;
};

// OpenAI's life cycle: validating -> in_progress -> finalizing -> completed; failed (the input
// was refused), cancelling -> cancelled, expired (the completion window passed).
enum class BatchStatus {
  validating,
  failed,
  in_progress,
  finalizing,
  completed,
  expired,
  cancelling,
  cancelled
};
std::string_view to_string(BatchStatus status);
std::optional<BatchStatus> batch_status_from(std::string_view text);
// validating, in_progress, finalizing, cancelling: a job the runner still owes work to.
bool is_unfinished(BatchStatus status);

struct BatchRecord {
  std::string id;  // "batch_..."
  std::string tenant;
  std::string key_id;
  std::string input_file_id;
  std::string endpoint;  // "/v1/chat/completions" or "/v1/completions"
  std::string completion_window = "24h";
  std::string metadata_json = "null";  // a JSON object or null, as text
  std::string errors_json = "null";    // OpenAI's {"object":"list","data":[...]} or null
  BatchStatus status = BatchStatus::validating;
  // Unix seconds; 0 = not (yet) reached.
  int64_t created_at = 0, in_progress_at = 0, expires_at = 0, finalizing_at = 0, completed_at = 0,
          failed_at = 0, expired_at = 0, cancelling_at = 0, cancelled_at = 0;
  std::string output_file_id;  // chosen at creation; the file exists once finalized
  std::string error_file_id;
  int64_t total = 0;
  // Lines whose result is stored: answered 2xx (completed) or not (failed).
  int64_t completed = 0, failed = 0;
  // Sums over stored lines, for progress: tokens in/out and cost in micro-dollars.
  int64_t tokens_in = 0, tokens_out = 0, cost_micro_usd = 0;
  bool output_written = false;  // finalizing wrote both files
};

struct LineResult {
  int64_t line = 0;  // 0-based index in the input file
  bool ok = false;   // goes to the output file (else the error file)
  std::string json;  // the output line, one JSON object without the newline
};

// A stored ledger row not yet known to be committed in the ledger.
struct UnbilledRow {
  std::string batch_id;
  int64_t line = 0;
  std::string row_json;
};

struct VendorBatchLine {
  int64_t line = 0;       // 0-based index in the job's input file
  std::string custom_id;  // what the vendor was sent (ours, never the client's)
  std::string row_json;   // the line's ledger row as planned (ledger_row_json.h)
};

struct VendorBatchRecord {
  int64_t id = 0;        // ours, assigned by insert_vendor_batch()
  std::string batch_id;  // the job
  std::string backend;   // config name of the backend it goes to
  // Deterministic per (job, chunk) and unique among the job's open vendor batches; what the
  // vendor is given to find the batch again (vendor_batch.h, find_submitted).
  std::string tag;
  std::string vendor_batch_id;  // "" = an intent: the vendor's answer was never stored
  int64_t submitted_at_ms = 0;  // when the intent was stored, just before the vendor was asked
  bool cancel_sent = false;
  std::vector<VendorBatchLine> lines;
};

class BatchStore {
 public:
  virtual ~BatchStore() = default;

  virtual backends::Status insert_file(const FileRecord& file) = 0;
  virtual std::optional<FileRecord> file(const std::string& id) const = 0;
  // The tenant's files, newest first, after `after` (an id) when given; purpose "" = all.
  virtual std::vector<FileRecord> list_files(const std::string& tenant, const std::string& purpose,
                                             size_t limit, const std::string& after) const = 0;
  virtual backends::Status delete_file(const std::string& id) = 0;

  virtual backends::Status insert_batch(const BatchRecord& batch) = 0;
  virtual std::optional<BatchRecord> batch(const std::string& id) const = 0;
  // The tenant's batches, newest first, after `after` (an id) when given.
  virtual std::vector<BatchRecord> list_batches(const std::string& tenant, size_t limit,
                                                const std::string& after) const = 0;
  virtual std::vector<BatchRecord> unfinished_batches() const = 0;
  // Stores status, timestamps, errors and output_written (not the counters).
  virtual backends::Status update_batch(const BatchRecord& batch) = 0;
  // Moves the batch to `to` only if its status is one of `from`: false when it was not.
  virtual backends::Result<bool> transition(const std::string& id,
                                            std::initializer_list<BatchStatus> from, BatchStatus to,
                                            int64_t at) = 0;

  // Stores a line's result and its ledger row ("" = none) in one transaction and adds it to
  // the batch's counters. false: the line already had a result (nothing changed).
  virtual backends::Result<bool> record_line(const std::string& batch_id, const LineResult& result,
                                             const std::string& row_json, int64_t tokens_in,
                                             int64_t tokens_out, int64_t cost_micro_usd) = 0;
  virtual std::set<int64_t> done_lines(const std::string& batch_id) const = 0;
  // In line order.
  virtual std::vector<LineResult> results(const std::string& batch_id) const = 0;
  virtual std::vector<UnbilledRow> unbilled() const = 0;
  virtual backends::Status mark_billed(
      const std::vector<std::pair<std::string, int64_t>>& lines) = 0;

  // Stores a vendor batch (an intent when vendor_batch_id is ""); its id. When the job already
  // has an open vendor batch with this tag, nothing is stored and that one's id is returned.
  virtual backends::Result<int64_t> insert_vendor_batch(const VendorBatchRecord& record) = 0;
  // The vendor accepted the intent `id` as `vendor_batch_id`.
  virtual backends::Status set_vendor_batch_id(int64_t id, const std::string& vendor_batch_id) = 0;
  // Vendor batches (intents included) whose lines were not all delivered yet, oldest first.
  virtual std::vector<VendorBatchRecord> open_vendor_batches() const = 0;
  // The vendor ids stored for `backend` (open or done) whose intent is at or after `since_ms`.
  virtual std::set<std::string> vendor_batch_ids(const std::string& backend,
                                                 int64_t since_ms) const = 0;
  virtual backends::Status mark_vendor_batch_done(int64_t id) = 0;
  virtual backends::Status mark_vendor_batch_cancel_sent(int64_t id) = 0;
};

// Vendor batch lines as the stores keep them (one JSON text per vendor batch), and back.
std::string vendor_batch_lines_to_json(const std::vector<VendorBatchLine>& lines);
std::vector<VendorBatchLine> vendor_batch_lines_from_json(const std::string& json);

// The column a transition to `to` stamps with its time.
std::string_view status_time_column(BatchStatus to);

}  // namespace sy::gateway
