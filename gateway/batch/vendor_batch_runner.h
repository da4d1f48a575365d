#pragma once
// Bulk-job lines that the policy sent to a closed vendor with a batch API (a backend with
// `batch_api` on): grouped per backend into vendor batches (OpenAI Batch, Anthropic Message
// Batches), submitted, polled with backoff, and their answers handed back per line exactly as
// a synchronous line's would be: an OpenAI chat.completion body (or OpenAI error JSON) and a
// ledger row priced at the catalog's batch price (price_source "<source>+batch").
//
// Contract with BatchService:
// - submit() takes lines already decided by the policy gate (VendorLinePlan): nothing else is
//   ever sent to a vendor batch.
// - The sink gets every submitted line once per delivery; after a crash a vendor batch's
//   results may be delivered again (the job store keeps the first: exactly once per line).
// - A vendor batch is persisted in the job store (batch_store.h) as an intent BEFORE the vendor
//   is asked, tagged "sy-<job>-<first line>", and given the vendor's id once it answered. A
//   submit whose answer never came (a crash, a timeout, a shutdown mid-call) is reconciled
//   with the vendor (VendorBatchClient::find_submitted) before anything is submitted again:
//   found, it is polled; absent, it is submitted (same process) or its lines given back to
//   the job (after a restart, reconcile_intents); undecided, asked again later. start()
//   resumes polling stored vendor batches, so a restart never submits them again.
// - A vendor batch the vendor refuses (after `submit_attempts` tries) or fails, and a line it
//   reports no answer for, come back as error outcomes marked vendor_fallback (BatchService
//   runs them on the policy's next backend, else they go to the job's error file); so do lines
//   the vendor answers with an error the synchronous path would fall back on (its
//   Error::fallback_allowed: expired, rate limited, 5xx...). Cancelled lines are not marked.
// Threading: one worker thread does every vendor call (they block); public methods are
// thread-safe and never block on the network.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "batch/batch_service.h"
#include "batch/batch_store.h"
#include "ledger/request_pricer.h"
#include "switchyard/backends/vendor_batch.h"

namespace sy::gateway {

// A line the policy routed to a batch-API backend: what to send, and its ledger row so far.
struct VendorLinePlan {
  std::string backend;            // config name; a backend with batch_api on
  backends::ChatRequest request;  // request.model is the upstream model; not streamed
  LedgerRow row;                  // ids, tenant, key, endpoint, rule and classes filled
  // Set when the line's budgets or rate limits refused it (the synchronous path's own refusal:
  // status, error JSON, denied row): stored as its result, nothing is submitted.
  std::optional<BatchLineOutcome> refused;
};

// Decides one line before it runs: a plan for a vendor batch, or nullopt to run it on the
// synchronous path (which decides again, and refuses what the policy refuses).
using BatchLinePlanner = std::function<std::optional<VendorLinePlan>(const BatchLineRequest&)>;

// Where each line's outcome goes (BatchService): job id, 0-based line, outcome.
using VendorLineSink = std::function<void(const std::string&, int64_t, BatchLineOutcome)>;

class VendorBatchRunner;

// Settles a vendor-batched line's budgets and rate limits once (its admission was taken when
// it was planned): with its stored outcome's real cost and tokens, or, with null, releases it
// (a planned line never submitted).
using BatchLineSettler =
    std::function<void(const std::string& request_id, const BatchLineOutcome* outcome)>;
// Runs a line whose vendor batch failed it (BatchLineOutcome::vendor_fallback) on the
// synchronous path over the policy's candidates other than `failed_backend`, decided again (so
// never a backend the line's sensitivity forbids), at normal prices; with no candidate left,
// `done` gets `vendor_outcome` unchanged. Settles the line's admission itself.
using BatchLineFallback = std::function<void(BatchLineRequest line, std::string failed_backend,
                                             BatchLineOutcome vendor_outcome,
                                             std::function<void(BatchLineOutcome)> done)>;

// What BatchService needs to send lines to vendor batches: the planner and the runner; the
// settler and the fallback may be empty (no limits; a failed line goes to the error file).
struct VendorBatching {
  BatchLinePlanner planner;
  std::shared_ptr<VendorBatchRunner> runner;
  BatchLineSettler settle;
  BatchLineFallback fallback;
};

struct VendorBatchBackend {
  std::shared_ptr<backends::VendorBatchClient> client;
  std::chrono::milliseconds poll_initial{5'000};
  std::chrono::milliseconds poll_max{300'000};
  size_t max_requests = 10'000;
};

struct VendorBatchRunnerOptions {
  // Where vendor batches are kept: the job store (BatchService::store()); must outlive the
  // runner. Required.
  BatchStore* store = nullptr;
  // The per-replica vendor batch file of earlier builds: imported into `store` once, when
  // present (legacy_vendor_batches.h). "" = none.
  std::filesystem::path legacy_store_path;
  int submit_attempts = 3;  // tries of a retryable submit failure, with backoff
  std::chrono::milliseconds retry_backoff{1'000};
  // Set by stop(); the vendor clients poll it (VendorBatchClientOptions::stop) to cancel a call
  // in flight. May be null.
  std::shared_ptr<std::atomic<bool>> stop_flag;
};

class VendorBatchRunner {
 public:
  // Reads the stored vendor batches (importing the legacy file first; throws
  // std::runtime_error with context). `pricer` may be null (unpriced).
  VendorBatchRunner(VendorBatchRunnerOptions options,
                    std::map<std::string, VendorBatchBackend> backends,
                    std::shared_ptr<const RequestPricer> pricer);
  ~VendorBatchRunner();  // stop()
  VendorBatchRunner(const VendorBatchRunner&) = delete;
  VendorBatchRunner& operator=(const VendorBatchRunner&) = delete;

  bool serves(const std::string& backend) const { return backends_.contains(backend); }
  // Call once, before start().
  void set_sink(VendorLineSink sink) { sink_ = std::move(sink); }
  // Once at resume, before owned_lines() and start(), with the vendor clients' event loop
  // running: asks each vendor about the intents a crash left (blocking, bounded by the
  // backends' timeouts). Found: polled from start(). Absent: forgotten, so their lines are not
  // owned and the job plans them again. Undecided or unreachable: kept (their lines owned) and
  // asked again by the worker.
  void reconcile_intents();
  // Lines of `batch_id` in stored, unfinished vendor batches (available before start()).
  std::set<int64_t> owned_lines(const std::string& batch_id) const;
  // Starts the worker: stored vendor batches are polled again, queued lines submitted.
  void start();
  // Queues lines of one job for submission (grouped per backend, max_requests per batch).
  // `custom_id` of each is the vendor's custom_id (ours: the line's request id).
  void submit(const std::string& batch_id, std::vector<std::pair<int64_t, VendorLinePlan>> lines);
  // The job was cancelled: its vendor batches are cancelled at the vendor (once); their
  // results still come back (answered lines billed, the rest as errors).
  void cancel(const std::string& batch_id);
  // Stops the worker (a vendor call in flight is cancelled). Idempotent.
  void stop();

 private:
  struct Pending {  // queued, not yet submitted
    std::string batch_id;
    std::string backend;
    std::vector<std::pair<int64_t, VendorLinePlan>> lines;
    int attempts = 0;
    std::chrono::steady_clock::time_point not_before{};
  };
  struct Active {  // stored: submitted (vendor id known) or an intent (not yet known)
    VendorBatchRecord record;
    std::chrono::milliseconds interval{};
    std::chrono::steady_clock::time_point next_poll{};
    int poll_failures = 0;
    // Intents only. The requests to submit, kept in memory (this process only: after a restart
    // an intent found absent gives its lines back to the job instead).
    std::vector<backends::VendorBatchItem> items;
    // Whether the vendor may hold it: a submit was tried and its answer is unknown, or the
    // intent was read back after a restart. false: submit without asking first.
    bool maybe_submitted = true;
    int attempts = 0;  // submits tried in this process
    std::optional<backends::Error> last_error;
  };

  void worker();
  void submit_one(Pending pending);
  // An intent's turn: find it at the vendor when it may be there, else submit it. true: its
  // lines were delivered (failed) and it is done.
  bool reconcile_one(Active& active);
  // What find_submitted() needs for this intent.
  backends::VendorBatchSearch search_for(const VendorBatchRecord& record) const;
  // The vendor has the intent as `vendor_batch_id`: stored, then polled.
  void adopt(Active& active, const std::string& vendor_batch_id);
  // true: the vendor batch is finished (results delivered or failed lines delivered).
  bool poll_one(Active& active);
  void deliver_results(const VendorBatchRecord& record,
                       std::vector<backends::VendorBatchResult> results);
  void fail_lines(const std::string& batch_id, const std::string& backend,
                  const std::vector<VendorBatchLine>& lines, const backends::Error& error);
  BatchLineOutcome outcome_for(LedgerRow row, const std::string& backend, const std::string& model,
                               const backends::Result<backends::ChatResponse>& response) const;
  bool stopping() const;

  VendorBatchRunnerOptions options_;
  std::map<std::string, VendorBatchBackend> backends_;
  std::shared_ptr<const RequestPricer> pricer_;
  BatchStore& store_;
  VendorLineSink sink_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;
  std::vector<Active> active_;           // owned by the worker once started
  std::set<std::string> cancel_;         // jobs to cancel at the vendor
  bool stopping_ = false;
  bool started_ = false;
  std::thread worker_;
};

}  // namespace sy::gateway
