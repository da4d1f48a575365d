#include "batch/batch_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "batch/batch_input_index.h"
#include "batch/ledger_row_json.h"
#include "batch/postgres_batch_store.h"
#include "batch/sqlite_batch_store.h"
#include "batch/vendor_batch_runner.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string random_hex(size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n, '0');
  for (auto& c : out) c = kHex[rng() & 15];
  return out;
}

std::unexpected<Error> not_found(const std::string& what, const std::string& id) {
  return backends::fail(ErrorKind::not_found, "No such " + what + ": '" + id.substr(0, 100) + "'");
}

std::optional<std::string> read_whole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return std::move(buffer).str();
}

// The OpenAI output line of an answered request (any HTTP status).
std::string answered_line(const std::string& line_id, const std::string& custom_id,
                          const std::string& request_id, const BatchLineOutcome& outcome) {
  nlohmann::json body = nlohmann::json::parse(outcome.body, nullptr, false);
  if (body.is_discarded()) body = nlohmann::json::object();
  nlohmann::json line = {{"id", line_id},
                         {"custom_id", custom_id},
                         {"response",
                          {{"status_code", outcome.status_code},
                           {"request_id", request_id},
                           {"body", std::move(body)}}},
                         {"error", nullptr}};
  return line.dump();
}

// A line that never ran (the job was cancelled or expired first).
std::string unrun_line(const std::string& line_id, const std::string& custom_id,
                       const std::string& code, const std::string& message) {
  nlohmann::json line = {{"id", line_id},
                         {"custom_id", custom_id},
                         {"response", nullptr},
                         {"error", {{"code", code}, {"message", message}}}};
  return line.dump();
}

BatchInputIndex::Limits input_limits(const BatchServiceOptions& options) {
  return {.max_lines = options.max_lines,
          .max_line_bytes = options.max_line_bytes,
          .chunk_bytes = options.input_chunk_bytes};
}

// A JSONL file written line by line to a temporary file, renamed into place by commit(), so a
// reader (or a restart) never sees half a file; nothing is created for no lines.
class JsonlWriter {
 public:
  explicit JsonlWriter(std::filesystem::path path) : path_(std::move(path)) {}
  ~JsonlWriter() {
    if (out_.is_open()) {
      out_.close();
      std::error_code ec;
      std::filesystem::remove(tmp(), ec);
    }
  }
  void add(std::string_view line) {
    if (!out_.is_open()) out_.open(tmp(), std::ios::binary | std::ios::trunc);
    out_.write(line.data(), static_cast<std::streamsize>(line.size()));
    out_.put('\n');
    bytes_ += static_cast<int64_t>(line.size()) + 1;
    ++lines_;
  }
  int64_t bytes() const { return bytes_; }
  int64_t lines() const { return lines_; }
  backends::Status commit() {
    if (lines_ == 0) return {};
    out_.flush();
    const bool ok = static_cast<bool>(out_);
    out_.close();
    if (!ok) return backends::fail(ErrorKind::internal, "writing " + tmp().string());
    std::error_code ec;
    std::filesystem::rename(tmp(), path_, ec);
    if (ec) return backends::fail(ErrorKind::internal, "renaming " + tmp().string());
    return {};
  }

 private:
  std::filesystem::path tmp() const { return path_.string() + ".tmp"; }
  std::filesystem::path path_;
  std::ofstream out_;
  int64_t bytes_ = 0, lines_ = 0;
};

}  // namespace

struct BatchService::Job {
  BatchRecord record;
  // Where each request starts in the input file: a line is read back when it runs.
  std::shared_ptr<const BatchInputIndex> input;
  size_t total = 0;
  std::vector<bool> done;
  std::vector<bool> vendor;  // waits on a vendor batch (not run by pump)
  int vendor_pending = 0;
  bool planning = false;  // plan() has not decided every line yet: pump waits
  size_t next = 0;
  // Lines a rate limit refused, run again (before `next`) once `paused_until` has passed.
  std::deque<size_t> retry;
  std::chrono::steady_clock::time_point paused_until{};
  int in_flight = 0;
  bool cancel = false;
  bool expired = false;
  bool finalizing = false;

  std::string line_id(size_t index) const {
    return "batch_req_" + record.id.substr(record.id.find('_') + 1) + "_" + std::to_string(index);
  }
};

BatchService::BatchService(BatchServiceOptions options, BatchLineExecutor executor,
                           std::shared_ptr<LedgerWriter> ledger)
    : options_(std::move(options)),
      executor_(std::move(executor)),
      ledger_(std::move(ledger)),
      store_(options_.postgres_url.empty()
                 ? std::unique_ptr<BatchStore>(std::make_unique<SqliteBatchStore>(
                       options_.dir / "batches.sqlite3", options_.synchronous_full))
                 : open_postgres_batch_store(options_.postgres_url)) {
  if (!options_.ledger_lookup && !options_.ledger_path.empty()) {
    options_.ledger_lookup =
        [path = options_.ledger_path](
            int64_t since_ms,
            const std::vector<std::string>& ids) -> backends::Result<std::set<std::string>> {
      auto present = sqlite_ledger_request_ids(path, since_ms);
      if (!present) return present;
      std::set<std::string> out;
      for (const std::string& id : ids) {
        if (present->contains(id)) out.insert(id);
      }
      return out;
    };
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.dir / "files", ec);
  if (ec) throw std::runtime_error("batch: creating " + (options_.dir / "files").string());
  // Uploads a crash cut short: never committed, so nobody refers to them.
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir / "files", ec)) {
    if (entry.path().extension() == ".part") std::filesystem::remove(entry.path(), ec);
  }
  worker_ = std::thread([this] { worker(); });
}

BatchService::~BatchService() { close(); }

void BatchService::set_vendor_batching(std::unique_ptr<VendorBatching> vendor) {
  vendor_ = std::move(vendor);
  if (!vendor_) return;
  vendor_->runner->set_sink(
      [this](const std::string& batch_id, int64_t line, BatchLineOutcome outcome) {
        on_vendor_line_done(batch_id, line, std::move(outcome));
      });
}

void BatchService::close() {
  stop();
  // Its deliveries call into this service: stopped (and joined) before anything closes.
  if (vendor_) vendor_->runner->stop();
  std::lock_guard lock(join_mutex_);
  if (worker_.joinable()) worker_.join();
}

std::filesystem::path BatchService::file_path(const std::string& id) const {
  return options_.dir / "files" / (id + ".jsonl");
}

std::unique_ptr<FileUpload> BatchService::begin_upload() const {
  return std::make_unique<FileUpload>(
      options_.dir / "files" / ("upload-" + random_hex(24) + ".part"),
      FileUploadLimits{.max_bytes = options_.max_file_bytes,
                       .max_lines = options_.max_lines,
                       .max_line_bytes = options_.max_line_bytes,
                       .sync = options_.synchronous_full});
}

backends::Result<FileRecord> BatchService::commit_upload(const std::string& tenant,
                                                         const std::string& filename,
                                                         const std::string& purpose,
                                                         FileUpload& upload) {
  if (purpose != "batch") {
    return backends::fail(ErrorKind::invalid_request,
                          "purpose must be 'batch' (the only purpose this server stores)");
  }
  if (auto finished = upload.finish(); !finished) return std::unexpected(finished.error());
  FileRecord record{.id = "file-" + random_hex(24),
                    .tenant = tenant,
                    .purpose = purpose,
                    .filename = filename.empty() ? "input.jsonl" : filename.substr(0, 255),
                    .bytes = upload.bytes(),
                    .created_at = unix_now(),
                    .lines = upload.requests()};
  std::error_code ec;
  std::filesystem::rename(upload.temp_path(), file_path(record.id), ec);
  if (ec) return backends::fail(ErrorKind::internal, "storing the upload: " + ec.message());
  upload.release();
  if (auto stored = store_->insert_file(record); !stored) {
    std::filesystem::remove(file_path(record.id), ec);
    return std::unexpected(stored.error());
  }
  return record;
}

backends::Result<FileRecord> BatchService::upload(const std::string& tenant,
                                                  const std::string& filename,
                                                  const std::string& purpose,
                                                  std::string_view content) {
  auto upload = begin_upload();
  if (auto appended = upload->append(content); !appended) {
    return std::unexpected(appended.error());
  }
  return commit_upload(tenant, filename, purpose, *upload);
}

backends::Result<FileRecord> BatchService::file(const std::string& tenant,
                                                const std::string& id) const {
  auto record = store_->file(id);
  if (!record || record->tenant != tenant) return not_found("file", id);
  return *record;
}

bool BatchService::file_exists(const std::string& id) const {
  return !id.empty() && store_->file(id).has_value();
}

backends::Result<std::string> BatchService::content(const std::string& tenant,
                                                    const std::string& id) const {
  auto record = file(tenant, id);
  if (!record) return std::unexpected(record.error());
  auto text = read_whole(file_path(id));
  if (!text) return backends::fail(ErrorKind::internal, "The file's content is missing");
  return *text;
}

backends::Status BatchService::remove_file(const std::string& tenant, const std::string& id) {
  auto record = file(tenant, id);
  if (!record) return std::unexpected(record.error());
  if (auto removed = store_->delete_file(id); !removed) return removed;
  std::error_code ec;
  std::filesystem::remove(file_path(id), ec);
  return {};
}

std::vector<FileRecord> BatchService::list_files(const std::string& tenant,
                                                 const std::string& purpose, size_t limit,
                                                 const std::string& after) const {
  return store_->list_files(tenant, purpose, limit, after);
}

backends::Result<BatchRecord> BatchService::create(const std::string& tenant,
                                                   const std::string& key_id,
                                                   const std::string& input_file_id,
                                                   const std::string& endpoint,
                                                   const std::string& completion_window,
                                                   const std::string& metadata_json) {
  if (!is_batch_endpoint(endpoint)) {
    return std::unexpected(
        Error{.kind = ErrorKind::invalid_request,
              .message = "endpoint must be '/v1/chat/completions' or '/v1/completions'",
              .param = "endpoint"});
  }
  if (completion_window != "24h") {
    return std::unexpected(Error{.kind = ErrorKind::invalid_request,
                                 .message = "completion_window must be '24h'",
                                 .param = "completion_window"});
  }
  auto input = file(tenant, input_file_id);
  if (!input) return std::unexpected(input.error());
  if (input->purpose != "batch") {
    return std::unexpected(Error{.kind = ErrorKind::invalid_request,
                                 .message = "The input file's purpose must be 'batch'",
                                 .param = "input_file_id"});
  }
  std::error_code exists_ec;
  if (!std::filesystem::exists(file_path(input_file_id), exists_ec)) {
    return backends::fail(ErrorKind::internal, "The input file's content is missing");
  }
  // Streamed, never read whole: the lines' urls are checked as they go by.
  nlohmann::json errors = nlohmann::json::array();
  auto index = BatchInputIndex::build(
      file_path(input_file_id), input_limits(options_), [&](size_t i, const BatchInputLine& line) {
        if (line.url == endpoint || errors.size() >= 100) return;
        errors.push_back({{"code", "mismatched_endpoint"},
                          {"message", "The line's url '" + line.url +
                                          "' is not the batch's endpoint '" + endpoint + "'"},
                          {"param", "url"},
                          {"line", i + 1}});
      });

  const std::string hex = random_hex(24);
  BatchRecord record{.id = "batch_" + hex,
                     .tenant = tenant,
                     .key_id = key_id,
                     .input_file_id = input_file_id,
                     .endpoint = endpoint,
                     .completion_window = completion_window,
                     .metadata_json = metadata_json,
                     .status = BatchStatus::validating,
                     .created_at = unix_now(),
                     .output_file_id = "file-" + hex + "out",
                     .error_file_id = "file-" + hex + "err"};
  record.expires_at = record.created_at + options_.window_seconds;
  // Validation: a file that no longer parses, or lines for another endpoint, fail the batch
  // (OpenAI's `errors` list names the lines) rather than the request.
  if (!index) {
    errors = nlohmann::json::array();
    errors.push_back({{"code", "invalid_request"}, {"message", index.error().message}});
  } else {
    record.total = static_cast<int64_t>(index->size());
  }
  if (!errors.empty()) {
    record.status = BatchStatus::failed;
    record.failed_at = record.created_at;
    record.errors_json = nlohmann::json{{"object", "list"}, {"data", errors}}.dump();
    record.output_file_id.clear();
    record.error_file_id.clear();
  } else {
    record.status = BatchStatus::in_progress;
    record.in_progress_at = record.created_at;
  }
  if (auto stored = store_->insert_batch(record); !stored) return std::unexpected(stored.error());
  if (record.status == BatchStatus::in_progress) start(record);
  return record;
}

backends::Result<BatchRecord> BatchService::batch(const std::string& tenant,
                                                  const std::string& id) const {
  auto record = store_->batch(id);
  if (!record || record->tenant != tenant) return not_found("batch", id);
  return *record;
}

std::vector<BatchRecord> BatchService::list_batches(const std::string& tenant, size_t limit,
                                                    const std::string& after) const {
  return store_->list_batches(tenant, limit, after);
}

backends::Result<BatchRecord> BatchService::cancel(const std::string& tenant,
                                                   const std::string& id) {
  auto record = batch(tenant, id);
  if (!record) return record;
  if (record->status == BatchStatus::cancelling || record->status == BatchStatus::cancelled) {
    return record;
  }
  auto moved = store_->transition(id, {BatchStatus::validating, BatchStatus::in_progress},
                                  BatchStatus::cancelling, unix_now());
  if (!moved) return std::unexpected(moved.error());
  if (!*moved) {
    return std::unexpected(Error{.kind = ErrorKind::invalid_request,
                                 .message = "Cannot cancel a batch with status '" +
                                            std::string(to_string(record->status)) + "'",
                                 .code = "batch_not_cancellable"});
  }
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(id);
    if (it != jobs_.end()) {
      job = it->second;
      job->cancel = true;
    }
  }
  if (vendor_) vendor_->runner->cancel(id);
  if (job) {
    pump(job);  // finalizes at once when nothing is in flight
  } else {
    post([this, id] { finalize(id); });
  }
  return batch(tenant, id);
}

void BatchService::start(const BatchRecord& record) {
  auto index = BatchInputIndex::build(file_path(record.input_file_id), input_limits(options_));
  if (!index) {
    // The input vanished under a stored job (deleted): the job fails, naming why.
    BatchRecord failed = record;
    failed.status = BatchStatus::failed;
    failed.failed_at = unix_now();
    failed.errors_json =
        nlohmann::json{
            {"object", "list"},
            {"data", {{{"code", "input_file_unreadable"}, {"message", index.error().message}}}}}
            .dump();
    (void)store_->update_batch(failed);
    return;
  }
  auto job = std::make_shared<Job>();
  job->record = record;
  job->total = index->size();
  job->input = std::make_shared<const BatchInputIndex>(std::move(*index));
  job->done.assign(job->total, false);
  for (int64_t line : store_->done_lines(record.id)) {
    if (line >= 0 && static_cast<size_t>(line) < job->done.size()) job->done[line] = true;
  }
  job->cancel = record.status == BatchStatus::cancelling;
  job->vendor.assign(job->total, false);
  if (vendor_) {
    // Lines a stored vendor batch still owes (a restart): their results come from the vendor.
    for (int64_t line : vendor_->runner->owned_lines(record.id)) {
      if (line < 0 || static_cast<size_t>(line) >= job->total) continue;
      if (job->done[line] || job->vendor[line]) continue;
      job->vendor[line] = true;
      ++job->vendor_pending;
    }
    job->planning = true;
    // Cancelled before a restart: its vendor batches are cancelled at the vendor (once).
    if (job->cancel) vendor_->runner->cancel(record.id);
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    jobs_[record.id] = job;
  }
  if (vendor_) {
    post([this, job] { plan(job); });  // off the request thread: a policy decision per line
    return;
  }
  pump(job);
}

BatchLineRequest BatchService::line_request(const Job& job, size_t index) {
  const size_t held = ++lines_held_;
  for (size_t peak = peak_lines_held_.load(); held > peak;) {
    if (peak_lines_held_.compare_exchange_weak(peak, held)) break;
  }
  auto read = job.input->read(index);
  if (!read) {
    // Valid at upload; unreadable now (a disk error): the executor answers the empty body as
    // invalid, so the line still gets its error line.
    spdlog::error("batch {} line {}: {}", job.record.id, index + 1, read.error().message);
    read = BatchInputLine{.url = job.record.endpoint};
  }
  BatchInputLine& line = *read;
  // Batch answers are whole JSON bodies: a line asking to stream is answered unstreamed.
  std::string body = std::move(line.body);
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && (parsed.contains("stream") || parsed.contains("stream_options"))) {
    parsed.erase("stream");
    parsed.erase("stream_options");
    body = parsed.dump();
  }
  return BatchLineRequest{.request_id = job.line_id(index),
                          .tenant = job.record.tenant,
                          .key_id = job.record.key_id,
                          .url = std::move(line.url),
                          .body = std::move(body)};
}

void BatchService::release_line() { --lines_held_; }

std::string BatchService::custom_id(const Job& job, size_t index) const {
  auto line = job.input->read(index);
  return line ? std::move(line->custom_id) : std::string();
}

void BatchService::plan(const std::shared_ptr<Job>& job) {
  std::vector<std::pair<int64_t, VendorLinePlan>> planned;
  for (size_t i = 0; i < job->total; ++i) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || job->cancel) break;
      if (job->done[i] || job->vendor[i]) continue;
    }
    BatchLineRequest request = line_request(*job, i);
    auto line_plan = vendor_->planner(request);
    // A plan holds the parsed request until it is submitted (the vendor's upload needs it);
    // the line itself is not kept.
    request.body.clear();
    release_line();
    if (line_plan && line_plan->refused) {
      // Its budgets or rate limits refused it, as they would have synchronously: that answer
      // is its result.
      if (store_line(*job, i, *line_plan->refused)) {
        std::lock_guard lock(mutex_);
        job->done[i] = true;
      }
      continue;
    }
    if (line_plan && vendor_->runner->serves(line_plan->backend)) {
      planned.emplace_back(static_cast<int64_t>(i), std::move(*line_plan));
    } else if (line_plan && vendor_->settle) {
      vendor_->settle(request.request_id, nullptr);
    }
  }
  {
    std::lock_guard lock(mutex_);
    if (job->cancel || stopping_) {
      // A cancelled job submits nothing new: what its lines were admitted for is given back.
      if (vendor_->settle) {
        for (const auto& [line, line_plan] : planned) {
          vendor_->settle(line_plan.row.request_id, nullptr);
        }
      }
      planned.clear();
    }
    for (const auto& [line, line_plan] : planned) {
      job->vendor[line] = true;
      ++job->vendor_pending;
    }
    job->planning = false;
  }
  if (!planned.empty()) {
    spdlog::info("batch {}: {} of {} lines go to vendor batch APIs", job->record.id, planned.size(),
                 job->total);
    vendor_->runner->submit(job->record.id, std::move(planned));
  }
  pump(job);
}

void BatchService::pump(const std::shared_ptr<Job>& job) {
  std::vector<size_t> to_run;
  bool finish = false, expired = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || job->finalizing || job->planning) return;
    if (!job->expired && unix_now() >= job->record.expires_at) job->expired = true;
    const bool paused = std::chrono::steady_clock::now() < job->paused_until;
    while (!job->cancel && !job->expired && !paused &&
           job->in_flight < options_.max_concurrency_per_job &&
           (!job->retry.empty() || job->next < job->total)) {
      size_t index;
      if (!job->retry.empty()) {
        index = job->retry.front();
        job->retry.pop_front();
      } else {
        index = job->next++;
      }
      if (job->done[index] || job->vendor[index]) continue;
      ++job->in_flight;
      to_run.push_back(index);
    }
    const bool all_started =
        (job->next >= job->total && job->retry.empty()) || job->cancel || job->expired;
    // An expired job does not wait for its lines in flight or at a vendor (a line stuck in a
    // queue must not hold the job past its window): they still store their results and are
    // billed when they come back, but the files are written now, so each line is in them once
    // either way.
    if ((job->in_flight == 0 && job->vendor_pending == 0 && all_started) || job->expired) {
      job->finalizing = true;
      finish = true;
      expired = job->expired;
    }
  }
  for (size_t index : to_run) {
    executor_(line_request(*job, index), [this, job, index](BatchLineOutcome outcome) {
      on_line_done(job, index, std::move(outcome));
    });
  }
  if (finish) {
    const std::string id = job->record.id;
    // An expired job's lines still at a vendor are cancelled there: their answers would come
    // after its files are written.
    if (expired && vendor_) vendor_->runner->cancel(id);
    post([this, id] { finalize(id); });
  }
}

void BatchService::on_line_done(const std::shared_ptr<Job>& job, size_t index,
                                BatchLineOutcome outcome) {
  release_line();
  if (outcome.retry_after) {
    // Refused by a rate limit that frees up: nothing ran and nothing is billed (its denied row
    // is dropped with the answer), so the line waits and runs again. Pumping stops until then:
    // the job's other lines would meet the same limit.
    std::lock_guard lock(mutex_);
    if (!stopping_ && !job->cancel && !job->expired) {
      --job->in_flight;
      job->retry.push_back(index);
      const auto wait = std::clamp(*outcome.retry_after, std::chrono::milliseconds(1),
                                   std::chrono::milliseconds(60'000));
      job->paused_until = std::max(job->paused_until, std::chrono::steady_clock::now() + wait);
      pause_changed_ = true;  // the worker's next wake-up may now be sooner
      cv_.notify_all();
      return;
    }
  }
  const bool stored = store_line(*job, index, outcome);
  {
    std::lock_guard lock(mutex_);
    --job->in_flight;
    if (stored) job->done[index] = true;
  }
  pump(job);
}

void BatchService::on_vendor_line_done(const std::string& batch_id, int64_t line,
                                       BatchLineOutcome outcome) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(batch_id);
    if (it != jobs_.end()) job = it->second;
  }
  if (!job || line < 0 || static_cast<size_t>(line) >= job->total) {
    // Not running here (stopped, or finished before a redelivery): its stored result stands.
    spdlog::debug("batch {} line {}: vendor result for a job not running", batch_id, line + 1);
    // Not stored, so not billed: what the line was admitted for (if this process admitted it,
    // e.g. an expired job's lines coming back cancelled) is given back.
    if (vendor_ && vendor_->settle && line >= 0) {
      vendor_->settle(
          "batch_req_" + batch_id.substr(batch_id.find('_') + 1) + "_" + std::to_string(line),
          nullptr);
    }
    return;
  }
  const size_t index = static_cast<size_t>(line);
  if (outcome.vendor_fallback && vendor_ && vendor_->fallback) {
    bool run = false;
    {
      std::lock_guard lock(mutex_);
      // A cancelled or expired job's lines are not started again anywhere.
      run = !stopping_ && !job->cancel && !job->expired && !job->finalizing && !job->done[index];
    }
    if (run) {
      std::string failed_backend = outcome.row ? outcome.row->backend : std::string();
      vendor_->fallback(line_request(*job, index), std::move(failed_backend), std::move(outcome),
                        [this, job, index](BatchLineOutcome result) {
                          release_line();
                          finish_vendor_line(job, index, std::move(result), /*settled=*/true);
                        });
      return;
    }
  }
  finish_vendor_line(job, index, std::move(outcome), /*settled=*/false);
}

void BatchService::finish_vendor_line(const std::shared_ptr<Job>& job, size_t index,
                                      BatchLineOutcome outcome, bool settled) {
  bool fresh = false;
  const bool stored = store_line(*job, index, outcome, &fresh);
  // A redelivery after a restart was settled (or charged) the first time.
  if (!settled && vendor_ && vendor_->settle && (fresh || !stored)) {
    vendor_->settle(job->line_id(index), &outcome);
  }
  {
    std::lock_guard lock(mutex_);
    if (job->vendor[index]) {
      job->vendor[index] = false;
      --job->vendor_pending;
    }
    if (stored) job->done[index] = true;
  }
  pump(job);
}

bool BatchService::store_line(const Job& job, size_t index, BatchLineOutcome& outcome,
                              bool* fresh) {
  const std::string line_id = job.line_id(index);
  const bool ok = outcome.status_code >= 200 && outcome.status_code < 300;
  LineResult result{.line = static_cast<int64_t>(index),
                    .ok = ok,
                    .json = answered_line(line_id, custom_id(job, index), line_id, outcome)};
  std::string row_json;
  int64_t tokens_in = 0, tokens_out = 0, cost = 0;
  if (outcome.row) {
    tokens_in = outcome.row->usage.prompt_tokens;
    tokens_out = outcome.row->usage.completion_tokens;
    cost = outcome.row->cost;
    if (ledger_) row_json = ledger_row_to_json(*outcome.row);
  }
  // The result and its ledger row commit together; only then does the row reach the ledger.
  auto stored = store_->record_line(job.record.id, result, row_json, tokens_in, tokens_out, cost);
  if (fresh != nullptr) *fresh = stored && *stored;
  if (!stored) {
    spdlog::error("batch {} line {}: {}; it runs again after a restart", job.record.id, index + 1,
                  stored.error().message);
  } else if (*stored && outcome.row && ledger_) {
    ledger_->write(*outcome.row);
    std::lock_guard lock(mutex_);
    to_mark_.emplace_back(job.record.id, static_cast<int64_t>(index));
    cv_.notify_all();
  }
  return stored.has_value();
}

void BatchService::finalize(const std::string& batch_id) {
  auto record = store_->batch(batch_id);
  if (!record || !is_unfinished(record->status)) return;
  const int64_t now = unix_now();
  // Which terminal state: a cancel wins, then expiry, else every line has a result.
  BatchStatus terminal = BatchStatus::completed;
  if (record->status == BatchStatus::cancelling) {
    terminal = BatchStatus::cancelled;
  } else if (now >= record->expires_at) {
    terminal = BatchStatus::expired;
  }
  if (terminal == BatchStatus::completed && record->status != BatchStatus::finalizing) {
    record->status = BatchStatus::finalizing;
    record->finalizing_at = now;
    (void)store_->update_batch(*record);
  }
  // Streamed both ways: the input only for the custom_ids of lines without a result, the
  // results straight into the files.
  auto index = BatchInputIndex::build(file_path(record->input_file_id), input_limits(options_));
  JsonlWriter output(file_path(record->output_file_id));
  JsonlWriter errors(file_path(record->error_file_id));
  std::vector<bool> seen(index ? index->size() : 0, false);
  for (const LineResult& r : store_->results(batch_id)) {
    (r.ok ? output : errors).add(r.json);
    if (r.line >= 0 && static_cast<size_t>(r.line) < seen.size()) seen[r.line] = true;
  }
  // Lines left unrun by a cancel or expiry (or a line whose result was lost) still appear once.
  const std::string hex = batch_id.substr(batch_id.find('_') + 1);
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i]) continue;
    const bool cancelled = terminal == BatchStatus::cancelled;
    auto line = index->read(i);
    errors.add(unrun_line("batch_req_" + hex + "_" + std::to_string(i),
                          line ? line->custom_id : std::string(),
                          cancelled ? "batch_cancelled" : "batch_expired",
                          cancelled ? "The batch was cancelled before this request ran"
                                    : "The batch expired before this request ran"));
  }
  auto write_file = [&](const std::string& id, JsonlWriter& file, const std::string& name) -> bool {
    if (file.lines() == 0) return true;
    if (auto written = file.commit(); !written) {
      spdlog::error("batch {}: {}", batch_id, written.error().message);
      return false;
    }
    return store_
        ->insert_file(FileRecord{.id = id,
                                 .tenant = record->tenant,
                                 .purpose = "batch_output",
                                 .filename = batch_id + name,
                                 .bytes = file.bytes(),
                                 .created_at = now,
                                 .lines = file.lines()})
        .has_value();
  };
  if (!write_file(record->output_file_id, output, "_output.jsonl") ||
      !write_file(record->error_file_id, errors, "_error.jsonl")) {
    return;  // left unfinished: the next start finalizes again
  }
  record->output_written = true;
  record->status = terminal;
  if (terminal == BatchStatus::completed) record->completed_at = now;
  if (terminal == BatchStatus::cancelled) record->cancelled_at = now;
  if (terminal == BatchStatus::expired) record->expired_at = now;
  if (auto updated = store_->update_batch(*record); !updated) {
    spdlog::error("batch {}: {}", batch_id, updated.error().message);
  }
  {
    std::lock_guard lock(mutex_);
    jobs_.erase(batch_id);
  }
  cv_.notify_all();
}

void BatchService::repair_billing() {
  std::vector<UnbilledRow> rows = store_->unbilled();
  if (rows.empty()) return;
  std::vector<std::pair<std::string, int64_t>> marks;
  std::vector<LedgerRow> parsed;
  int64_t since = INT64_MAX;
  for (const UnbilledRow& u : rows) {
    marks.emplace_back(u.batch_id, u.line);
    if (auto row = ledger_row_from_json(u.row_json)) {
      since = std::min(since, row->time_ms);
      parsed.push_back(std::move(*row));
    }
  }
  if (ledger_ && !parsed.empty()) {
    std::set<std::string> present;
    if (options_.ledger_lookup) {
      std::vector<std::string> wanted;
      for (const LedgerRow& row : parsed) wanted.push_back(row.request_id);
      auto ids = options_.ledger_lookup(since, wanted);
      if (!ids) {
        // Not knowing what the ledger has, billing twice is worse than leaving the rows for
        // the next start.
        spdlog::error("batch: billing repair postponed: {}", ids.error().message);
        return;
      }
      present = std::move(*ids);
    }
    size_t written = 0;
    for (LedgerRow& row : parsed) {
      if (present.contains(row.request_id)) continue;
      ledger_->write(std::move(row));
      ++written;
    }
    ledger_->flush();
    if (written > 0) spdlog::info("batch: {} ledger rows restored after a restart", written);
  }
  if (auto marked = store_->mark_billed(marks); !marked) {
    spdlog::error("batch: {}", marked.error().message);
  }
}

void BatchService::resume() {
  repair_billing();
  // Vendor submits a crash left unanswered are settled first: what the vendor never received
  // is planned again below, what it holds is not.
  if (vendor_) vendor_->runner->reconcile_intents();
  for (const BatchRecord& record : store_->unfinished_batches()) {
    spdlog::info("batch {}: resuming ({})", record.id, to_string(record.status));
    if (record.status == BatchStatus::finalizing) {
      post([this, id = record.id] { finalize(id); });
    } else {
      start(record);
    }
  }
  // After every job is registered: resumed vendor batches deliver into running jobs.
  if (vendor_) vendor_->runner->start();
}

void BatchService::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
}

bool BatchService::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return jobs_.empty() && tasks_.empty(); });
}

void BatchService::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void BatchService::expire_overdue() {
  std::vector<std::shared_ptr<Job>> overdue;
  {
    std::lock_guard lock(mutex_);
    const int64_t now = unix_now();
    for (auto& [id, job] : jobs_) {
      if (!job->expired && !job->finalizing && now >= job->record.expires_at) {
        job->expired = true;
        overdue.push_back(job);
      }
    }
  }
  // pump() sees the flag and finalizes: the lines not yet stored go to the error file as
  // batch_expired.
  for (const auto& job : overdue) {
    spdlog::info("batch {}: the completion window passed", job->record.id);
    pump(job);
  }
}

std::chrono::steady_clock::time_point BatchService::resume_paused() {
  const auto now = std::chrono::steady_clock::now();
  auto next = std::chrono::steady_clock::time_point::max();
  std::vector<std::shared_ptr<Job>> due;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, job] : jobs_) {
      if (job->retry.empty() || job->finalizing) continue;
      if (job->paused_until <= now) {
        due.push_back(job);
      } else {
        next = std::min(next, job->paused_until);
      }
    }
  }
  for (const auto& job : due) pump(job);
  return next;
}

void BatchService::worker() {
  auto next_expiry_check = std::chrono::steady_clock::now();
  for (;;) {
    std::function<void()> task;
    std::vector<std::pair<std::string, int64_t>> marks;
    if (std::chrono::steady_clock::now() >= next_expiry_check) {
      expire_overdue();
      next_expiry_check = std::chrono::steady_clock::now() + options_.expiry_check_interval;
    }
    const auto wake = std::min(next_expiry_check, resume_paused());
    {
      std::unique_lock lock(mutex_);
      const bool woken = cv_.wait_until(lock, wake, [&] {
        return stopping_ || !tasks_.empty() || !to_mark_.empty() || pause_changed_;
      });
      if (!woken) continue;
      if (pause_changed_) {
        pause_changed_ = false;
        if (!stopping_ && tasks_.empty() && to_mark_.empty()) continue;
      }
      if (!tasks_.empty() && !stopping_) {
        task = std::move(tasks_.front());
        tasks_.pop_front();
      } else {
        marks.swap(to_mark_);
      }
      if (stopping_ && marks.empty() && !task) return;
    }
    if (task) {
      task();
      cv_.notify_all();
      continue;
    }
    // Rows handed to the ledger are marked billed once it has committed them (flush), so a
    // restart knows which outbox rows may still be missing from it.
    if (ledger_) ledger_->flush();
    if (auto marked = store_->mark_billed(marks); !marked) {
      spdlog::error("batch: {}", marked.error().message);
    }
  }
}

}  // namespace sy::gateway
