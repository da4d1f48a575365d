#pragma once
// The Files and Batch APIs without HTTP: uploaded files under a data folder, batch jobs in the
// BatchStore, and the runner that sends every line of a job through an executor (the gateway's
// own chat exchange: policy gate, fallback, pricing) with bounded concurrency per job.
//
// Guarantees:
// - Every input line of a finished job appears exactly once in its output file (2xx answers)
//   or its error file (anything else, and lines a cancel or expiry left unrun).
// - Every line that ran is billed once: its ledger row is stored with its result, then handed
//   to the ledger, then marked billed once the ledger has committed it. On restart, rows still
//   unmarked are looked up in the ledger (SQLite or PostgreSQL) and only the missing ones are
//   written. A line whose result was never stored runs again.
// - A job whose completion window passes stops starting lines (checked on a timer, not only
//   when a line finishes) and is finalized at once as expired: its unrun lines go to the error
//   file with code batch_expired.
// - A gateway killed mid-job resumes it on resume(): lines with a stored result are skipped.
//
// Tenancy: every lookup takes the caller's tenant; another tenant's file or batch is not_found.
// Threading: all methods are thread-safe; line completions run on the executor's threads;
// finalizing (writing the output files) and billing marks run on one background thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "batch/batch_input.h"
#include "batch/batch_store.h"
#include "batch/file_upload.h"
#include "switchyard/backends/error.h"
#include "switchyard/gateway/ledger.h"

namespace sy::gateway {

struct VendorBatching;  // vendor_batch_runner.h

// One line as the executor runs it: as if the batch's key had POSTed `body` to `url`.
struct BatchLineRequest {
  std::string request_id;  // deterministic per (batch, line): the ledger row's id
  std::string tenant;
  std::string key_id;
  std::string url;
  std::string body;
};

struct BatchLineOutcome {
  int status_code = 0;
  std::string body;              // the answer (OpenAI JSON, or its error JSON)
  std::optional<LedgerRow> row;  // the line's ledger row, not yet written anywhere
  // A vendor batch failed this line before it ran anywhere (the vendor refused or failed the
  // batch, the line expired there, or its error is one the synchronous path falls back on):
  // it may still run on the policy's next allowed backend (VendorBatching::fallback).
  bool vendor_fallback = false;
  // The line was refused by a rate limit that frees up after this long (429 with Retry-After):
  // the job waits that long and runs it again instead of storing the refusal. A batch is paced
  // by the tenant's and key's rate limits, not failed by them.
  std::optional<std::chrono::milliseconds> retry_after;
};

// Runs one line and calls `done` exactly once, on any thread, never inside the call.
using BatchLineExecutor =
    std::function<void(BatchLineRequest, std::function<void(BatchLineOutcome)> done)>;

// Which of `request_ids` (rows stamped at or after `since_ms`) the ledger already holds.
using LedgerLookup = std::function<backends::Result<std::set<std::string>>(
    int64_t since_ms, const std::vector<std::string>& request_ids)>;

struct BatchServiceOptions {
  std::filesystem::path dir;  // batches.sqlite3 and files/ (created)
  // An uploaded file's size (streamed to disk as it arrives: not bounded by the request body
  // cap), and one request line's size.
  size_t max_file_bytes = 200 * 1024 * 1024;
  size_t max_line_bytes = 8 * 1024 * 1024;
  size_t max_lines = 50'000;
  int max_concurrency_per_job = 4;
  bool synchronous_full = false;
  // Where jobs are stored: "" = SQLite under `dir`; else a PostgreSQL URL (the ledger's, so
  // that with a PostgreSQL ledger the job state lives beside it). Files stay under `dir`.
  std::string postgres_url;
  // The restart repair asks the ledger which of the outbox's request ids it already has:
  // `ledger_lookup` when set, else the SQLite ledger at `ledger_path` ("" and unset = none).
  std::filesystem::path ledger_path;
  LedgerLookup ledger_lookup;
  // The completion window "24h" means this many seconds (tests shorten it).
  int64_t window_seconds = 24 * 3600;
  // How often running jobs are checked for expiry besides when a line finishes: a job whose
  // lines are all stuck in flight, or that waits for a slot, still expires on time.
  std::chrono::milliseconds expiry_check_interval{1000};
  // A job streams its input file in reads of this size (batch_input_index.h): it keeps each
  // request's offset, never the file, and reads a line back when it runs it.
  size_t input_chunk_bytes = 64 * 1024;
};

// Progress of a job now (the stored counters plus what is in flight).
struct BatchProgress {
  int64_t total = 0, completed = 0, failed = 0;
  int64_t tokens_in = 0, tokens_out = 0, cost_micro_usd = 0;
};

class BatchService {
 public:
  // Opens the store (throws std::runtime_error with context at load time). `ledger` may be
  // null (no ledger: lines are not billed anywhere).
  BatchService(BatchServiceOptions options, BatchLineExecutor executor,
               std::shared_ptr<LedgerWriter> ledger);
  ~BatchService();  // close()
  BatchService(const BatchService&) = delete;
  BatchService& operator=(const BatchService&) = delete;

  size_t max_file_bytes() const { return options_.max_file_bytes; }
  const std::filesystem::path& dir() const { return options_.dir; }
  // The job store (vendor batches are kept in it too); lives as long as this service.
  BatchStore& store() { return *store_; }

  // Files. Only purpose "batch" may be uploaded; its content is validated line by line.
  // An upload streams: begin_upload(), append its bytes as they arrive, commit_upload(). A
  // FileUpload dropped without a commit leaves nothing behind.
  std::unique_ptr<FileUpload> begin_upload() const;
  backends::Result<FileRecord> commit_upload(const std::string& tenant, const std::string& filename,
                                             const std::string& purpose, FileUpload& upload);
  // The same for a file already in memory.
  backends::Result<FileRecord> upload(const std::string& tenant, const std::string& filename,
                                      const std::string& purpose, std::string_view content);
  backends::Result<FileRecord> file(const std::string& tenant, const std::string& id) const;
  backends::Result<std::string> content(const std::string& tenant, const std::string& id) const;
  backends::Status remove_file(const std::string& tenant, const std::string& id);
  std::vector<FileRecord> list_files(const std::string& tenant, const std::string& purpose,
                                     size_t limit, const std::string& after) const;
  // Whether the file exists (output and error files exist once a job has written them).
  bool file_exists(const std::string& id) const;

  // Batches. create() checks the input file (the tenant's, purpose batch, every line's url the
  // batch's endpoint), stores the job and starts it.
  backends::Result<BatchRecord> create(const std::string& tenant, const std::string& key_id,
                                       const std::string& input_file_id,
                                       const std::string& endpoint,
                                       const std::string& completion_window,
                                       const std::string& metadata_json);
  backends::Result<BatchRecord> batch(const std::string& tenant, const std::string& id) const;
  std::vector<BatchRecord> list_batches(const std::string& tenant, size_t limit,
                                        const std::string& after) const;
  // validating/in_progress -> cancelling; lines in flight finish, the rest go to the error file.
  backends::Result<BatchRecord> cancel(const std::string& tenant, const std::string& id);

  // Lines the policy routes to a backend with a vendor batch API go there (vendor_batch_runner.h)
  // instead of through the executor. Call before resume().
  void set_vendor_batching(std::unique_ptr<VendorBatching> vendor);

  // Once at start: repairs billing of rows stored but maybe not in the ledger, then restarts
  // every unfinished job.
  void resume();
  // Stops starting lines and finalizing; lines in flight still store their results. Idempotent,
  // never blocks (safe from a signal callback).
  void stop();
  // stop(), then waits for the background thread to mark what the ledger has committed. Call
  // before the ledger closes.
  void close();
  // Blocks until no job is running or `timeout` passes (tests): false on timeout.
  bool wait_idle(std::chrono::milliseconds timeout);
  // Instrumentation (tests): the most input lines held in memory at once, over every job since
  // start (a line is held from its read until its result is stored or handed to a vendor
  // batch); bounded by the jobs' concurrency, not by their files.
  size_t peak_lines_held() const { return peak_lines_held_.load(); }

 private:
  struct Job;
  std::filesystem::path file_path(const std::string& id) const;
  void start(const BatchRecord& record);
  void pump(const std::shared_ptr<Job>& job);
  void on_line_done(const std::shared_ptr<Job>& job, size_t index, BatchLineOutcome outcome);
  // Stores a line's result and hands its row to the ledger (both paths); false when the store
  // failed (the line runs again after a restart).
  // `fresh` (optional) says whether this call stored it (false: a redelivery, already stored).
  bool store_line(const Job& job, size_t index, BatchLineOutcome& outcome, bool* fresh = nullptr);
  // A vendor line's final outcome (after any fallback): stored, its admission settled unless
  // `settled` (the fallback's exchange settled it) or a redelivery, the job pumped.
  void finish_vendor_line(const std::shared_ptr<Job>& job, size_t index, BatchLineOutcome outcome,
                          bool settled);
  // Reads line `index` back from the job's input file (counted in lines_held_ until
  // release_line()); an unreadable line becomes a body the executor answers as invalid.
  BatchLineRequest line_request(const Job& job, size_t index);
  void release_line();
  // The line's custom_id, read back from the input file ("" when unreadable).
  std::string custom_id(const Job& job, size_t index) const;
  // Decides every line not yet done: vendor-batch lines go to the runner, the rest to pump().
  void plan(const std::shared_ptr<Job>& job);
  void on_vendor_line_done(const std::string& batch_id, int64_t line, BatchLineOutcome outcome);
  void finalize(const std::string& batch_id);
  void repair_billing();
  void expire_overdue();
  // Pumps the jobs whose rate-limit pause has passed; returns when the next one ends.
  std::chrono::steady_clock::time_point resume_paused();
  void post(std::function<void()> task);
  void worker();

  BatchServiceOptions options_;
  BatchLineExecutor executor_;
  std::shared_ptr<LedgerWriter> ledger_;
  std::unique_ptr<BatchStore> store_;
  std::unique_ptr<VendorBatching> vendor_;  // null = every line runs through the executor

  mutable std::mutex mutex_;
  std::condition_variable cv_;  // worker: tasks or marks; wait_idle: jobs
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::pair<std::string, int64_t>> to_mark_;  // handed to the ledger, not marked
  bool stopping_ = false;
  bool pause_changed_ = false;  // a job paused for a rate limit: the worker re-plans its wake-up
  std::atomic<size_t> lines_held_{0};
  std::atomic<size_t> peak_lines_held_{0};
  std::mutex join_mutex_;
  std::thread worker_;
};

}  // namespace sy::gateway
