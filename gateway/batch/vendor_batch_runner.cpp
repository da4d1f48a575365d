#include "batch/vendor_batch_runner.h"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "api/error_reply.h"
#include "batch/ledger_row_json.h"
#include "switchyard/backends/openai_json.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A vendor batch polled this many times in a row without an answer is given up on: its lines
// go to the error file rather than keeping the job open forever.
constexpr int kMaxPollFailures = 20;

}  // namespace

VendorBatchRunner::VendorBatchRunner(VendorBatchRunnerOptions options,
                                     std::map<std::string, VendorBatchBackend> backends,
                                     std::shared_ptr<const RequestPricer> pricer)
    : options_(std::move(options)),
      backends_(std::move(backends)),
      pricer_(std::move(pricer)),
      store_(options_.store_path, options_.synchronous_full) {
  const auto now = std::chrono::steady_clock::now();
  for (VendorBatchRecord& record : store_.open_batches()) {
    auto backend = backends_.find(record.backend);
    Active active{.record = std::move(record)};
    active.interval = backend != backends_.end() ? backend->second.poll_initial
                                                 : std::chrono::milliseconds(5'000);
    active.next_poll = now;  // a restart asks at once how far the vendor got
    active_.push_back(std::move(active));
  }
}

VendorBatchRunner::~VendorBatchRunner() { stop(); }

std::set<int64_t> VendorBatchRunner::owned_lines(const std::string& batch_id) const {
  std::set<int64_t> out;
  std::lock_guard lock(mutex_);
  for (const Active& a : active_) {
    if (a.record.batch_id != batch_id) continue;
    for (const VendorBatchLine& line : a.record.lines) out.insert(line.line);
  }
  for (const Pending& p : pending_) {
    if (p.batch_id != batch_id) continue;
    for (const auto& [line, plan] : p.lines) out.insert(line);
  }
  return out;
}

void VendorBatchRunner::start() {
  std::lock_guard lock(mutex_);
  if (started_ || stopping_) return;
  started_ = true;
  worker_ = std::thread([this] { worker(); });
}

void VendorBatchRunner::submit(const std::string& batch_id,
                               std::vector<std::pair<int64_t, VendorLinePlan>> lines) {
  // One group per backend, at most max_requests lines each.
  std::map<std::string, std::vector<std::pair<int64_t, VendorLinePlan>>> by_backend;
  for (auto& entry : lines) by_backend[entry.second.backend].push_back(std::move(entry));
  {
    std::lock_guard lock(mutex_);
    for (auto& [backend, group] : by_backend) {
      auto it = backends_.find(backend);
      const size_t max =
          it == backends_.end() ? group.size() : std::max<size_t>(1, it->second.max_requests);
      for (size_t at = 0; at < group.size(); at += max) {
        Pending p{.batch_id = batch_id, .backend = backend, .lines = {}};
        const size_t end = std::min(group.size(), at + max);
        for (size_t i = at; i < end; ++i) p.lines.push_back(std::move(group[i]));
        pending_.push_back(std::move(p));
      }
    }
  }
  cv_.notify_all();
}

void VendorBatchRunner::cancel(const std::string& batch_id) {
  {
    std::lock_guard lock(mutex_);
    cancel_.insert(batch_id);
  }
  cv_.notify_all();
}

void VendorBatchRunner::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  if (options_.stop_flag) *options_.stop_flag = true;
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

bool VendorBatchRunner::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void VendorBatchRunner::worker() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    // Lines of a cancelled job that were never submitted are answered as cancelled here.
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (!cancel_.contains(it->batch_id)) {
        ++it;
        continue;
      }
      Pending p = std::move(*it);
      it = pending_.erase(it);
      lock.unlock();
      std::vector<VendorBatchLine> lines;
      for (auto& [line, plan] : p.lines) {
        lines.push_back({.line = line,
                         .custom_id = plan.row.request_id,
                         .row_json = ledger_row_to_json(plan.row)});
      }
      fail_lines(p.batch_id, p.backend, lines,
                 Error{.kind = ErrorKind::upstream_unavailable,
                       .message = "The batch was cancelled before this request was submitted",
                       .code = "batch_cancelled"});
      lock.lock();
      it = pending_.begin();
    }
    // Submissions first (they are what a new job waits on), one at a time.
    auto due = std::find_if(pending_.begin(), pending_.end(),
                            [&](const Pending& p) { return p.not_before <= now; });
    if (due != pending_.end()) {
      Pending p = std::move(*due);
      pending_.erase(due);
      lock.unlock();
      submit_one(std::move(p));
      lock.lock();
      continue;
    }
    // Cancels, then polls that are due.
    std::optional<size_t> pick;
    auto next = std::chrono::steady_clock::time_point::max();
    for (size_t i = 0; i < active_.size(); ++i) {
      Active& a = active_[i];
      const bool cancel = cancel_.contains(a.record.batch_id) && !a.record.cancel_sent;
      if (cancel || a.next_poll <= now) {
        pick = i;
        break;
      }
      next = std::min(next, a.next_poll);
    }
    for (const Pending& p : pending_) next = std::min(next, p.not_before);
    if (!pick) {
      if (next == std::chrono::steady_clock::time_point::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, next);
      }
      continue;
    }
    Active active = active_[*pick];
    const bool cancel = cancel_.contains(active.record.batch_id) && !active.record.cancel_sent;
    lock.unlock();
    bool finished = false;
    auto backend = backends_.find(active.record.backend);
    if (backend == backends_.end()) {
      // The backend left the config (or lost batch_api) while its batch was out: nothing can
      // ask the vendor about it any more.
      fail_lines(active.record.batch_id, active.record.backend, active.record.lines,
                 Error{.kind = ErrorKind::upstream_unavailable,
                       .message = "backend '" + active.record.backend +
                                  "' has no batch API configured any more"});
      finished = true;
    } else if (cancel) {
      auto cancelled = backend->second.client->cancel(active.record.vendor_batch_id);
      if (!cancelled) {
        spdlog::warn("batch {}: cancelling vendor batch {} on {}: {}", active.record.batch_id,
                     active.record.vendor_batch_id, active.record.backend,
                     cancelled.error().message);
      }
      active.record.cancel_sent = true;
      (void)store_.mark_cancel_sent(active.record.id);
      active.next_poll = std::chrono::steady_clock::now();
    } else {
      finished = poll_one(active);
    }
    if (finished) {
      if (auto marked = store_.mark_done(active.record.id); !marked) {
        spdlog::error("batch {}: {}", active.record.batch_id, marked.error().message);
      }
    }
    lock.lock();
    auto it = std::find_if(active_.begin(), active_.end(),
                           [&](const Active& a) { return a.record.id == active.record.id; });
    if (it != active_.end()) {
      if (finished) {
        active_.erase(it);
      } else {
        *it = std::move(active);
      }
    }
  }
}

void VendorBatchRunner::submit_one(Pending pending) {
  auto backend = backends_.find(pending.backend);
  std::vector<VendorBatchLine> lines;
  std::vector<backends::VendorBatchItem> items;
  for (auto& [line, plan] : pending.lines) {
    lines.push_back(
        {.line = line, .custom_id = plan.row.request_id, .row_json = ledger_row_to_json(plan.row)});
    plan.request.stream = false;
    items.push_back({.custom_id = plan.row.request_id, .request = plan.request});
  }
  if (backend == backends_.end()) {
    fail_lines(pending.batch_id, pending.backend, lines,
               Error{.kind = ErrorKind::internal, .message = "no batch API for this backend"});
    return;
  }
  auto id = backend->second.client->submit(items);
  if (!id) {
    if (id.error().kind == ErrorKind::cancelled && stopping()) {
      // Shutting down: the lines were never stored as submitted, so the restart plans them again.
      return;
    }
    if (id.error().retryable() && ++pending.attempts < options_.submit_attempts) {
      const auto wait = options_.retry_backoff * (1 << std::min(pending.attempts, 10));
      spdlog::warn("batch {}: submitting {} lines to {} failed ({}); retrying in {} ms",
                   pending.batch_id, lines.size(), pending.backend, id.error().message,
                   wait.count());
      pending.not_before = std::chrono::steady_clock::now() + wait;
      std::lock_guard lock(mutex_);
      pending_.push_back(std::move(pending));
      return;
    }
    spdlog::warn("batch {}: {} refused a batch of {} lines: {}", pending.batch_id, pending.backend,
                 lines.size(), id.error().message);
    fail_lines(pending.batch_id, pending.backend, lines, id.error());
    return;
  }
  VendorBatchRecord record{.batch_id = pending.batch_id,
                           .backend = pending.backend,
                           .vendor_batch_id = *id,
                           .submitted_at_ms = now_ms(),
                           .lines = std::move(lines)};
  auto stored = store_.insert(record);
  if (!stored) {
    // Not durable: keep polling in memory; a restart would submit these lines again.
    spdlog::error("batch {}: {}", pending.batch_id, stored.error().message);
  }
  record.id = stored ? *stored : -static_cast<int64_t>(now_ms());
  spdlog::info("batch {}: {} lines submitted to {} as vendor batch {}", record.batch_id,
               record.lines.size(), record.backend, record.vendor_batch_id);
  Active active{.record = std::move(record),
                .interval = backend->second.poll_initial,
                .next_poll = std::chrono::steady_clock::now() + backend->second.poll_initial};
  std::lock_guard lock(mutex_);
  active_.push_back(std::move(active));
}

bool VendorBatchRunner::poll_one(Active& active) {
  const VendorBatchBackend& backend = backends_.at(active.record.backend);
  auto status = backend.client->poll(active.record.vendor_batch_id);
  auto back_off = [&] {
    active.next_poll = std::chrono::steady_clock::now() + active.interval;
    active.interval = std::min(active.interval * 2, backend.poll_max);
  };
  if (!status) {
    if (status.error().kind == ErrorKind::cancelled && stopping()) return false;
    if (++active.poll_failures >= kMaxPollFailures) {
      fail_lines(active.record.batch_id, active.record.backend, active.record.lines,
                 status.error());
      return true;
    }
    back_off();
    return false;
  }
  active.poll_failures = 0;
  switch (status->state) {
    case backends::VendorBatchState::in_progress:
      back_off();
      return false;
    case backends::VendorBatchState::failed:
      fail_lines(active.record.batch_id, active.record.backend, active.record.lines,
                 Error{.kind = ErrorKind::upstream_error,
                       .message = "The vendor failed the batch: " + status->detail.substr(0, 300)});
      return true;
    case backends::VendorBatchState::ended:
      break;
  }
  auto results = backend.client->results(active.record.vendor_batch_id);
  if (!results) {
    if (results.error().kind == ErrorKind::cancelled && stopping()) return false;
    if (++active.poll_failures >= kMaxPollFailures) {
      fail_lines(active.record.batch_id, active.record.backend, active.record.lines,
                 results.error());
      return true;
    }
    back_off();
    return false;
  }
  deliver_results(active.record, std::move(*results));
  return true;
}

void VendorBatchRunner::deliver_results(const VendorBatchRecord& record,
                                        std::vector<backends::VendorBatchResult> results) {
  std::map<std::string, backends::Result<backends::ChatResponse>> by_id;
  for (auto& r : results) by_id.emplace(std::move(r.custom_id), std::move(r.response));
  for (const VendorBatchLine& line : record.lines) {
    auto row = ledger_row_from_json(line.row_json);
    if (!row) {
      spdlog::error("batch {} line {}: unreadable stored ledger row", record.batch_id, line.line);
      row = LedgerRow{};
    }
    auto it = by_id.find(line.custom_id);
    backends::Result<backends::ChatResponse> response =
        it != by_id.end() ? std::move(it->second)
                          : backends::Result<backends::ChatResponse>(std::unexpected(
                                Error{.kind = ErrorKind::upstream_error,
                                      .message = "The vendor's batch results have no answer for "
                                                 "this request",
                                      .code = "batch_missing_result"}));
    const std::string model = row->model;
    BatchLineOutcome outcome = outcome_for(std::move(*row), record.backend, model, response);
    outcome.vendor_fallback = !response && response.error().fallback_allowed();
    if (sink_) sink_(record.batch_id, line.line, std::move(outcome));
  }
}

void VendorBatchRunner::fail_lines(const std::string& batch_id, const std::string& backend,
                                   const std::vector<VendorBatchLine>& lines, const Error& error) {
  for (const VendorBatchLine& line : lines) {
    auto row = ledger_row_from_json(line.row_json);
    if (!row) row = LedgerRow{};
    const std::string model = row->model;
    BatchLineOutcome outcome = outcome_for(std::move(*row), backend, model, std::unexpected(error));
    // The whole vendor batch failed (refused, failed, unreachable): the line never ran there.
    outcome.vendor_fallback = error.code != "batch_cancelled";
    if (sink_) sink_(batch_id, line.line, std::move(outcome));
  }
}

BatchLineOutcome VendorBatchRunner::outcome_for(
    LedgerRow row, const std::string& backend, const std::string& model,
    const backends::Result<backends::ChatResponse>& response) const {
  BatchLineOutcome outcome;
  row.backend = backend;
  row.model = model;
  row.latency_ms = std::max<int64_t>(0, now_ms() - row.time_ms);
  if (!response) {
    Error vendor_error = response.error();
    if (vendor_error.backend.empty()) vendor_error.backend = backend;
    // A vendor refusing the gateway's credentials is the operator's problem, as on every surface.
    const Error error = as_seen_by_client(vendor_error);
    ErrorReply reply = openai_error_reply(error);
    outcome.status_code = reply.status;
    outcome.body = std::move(reply.body);
    row.status = LedgerStatus::error;
    row.error_kind = std::string(backends::to_string(error.kind));
    row.http_status = reply.status;
    outcome.row = std::move(row);
    return outcome;
  }
  row.usage = response->usage;
  const auto day = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(row.time_ms)));
  if (pricer_) {
    PricedUsage price = pricer_->price(backend, model, row.usage, day, /*batch=*/true);
    if (price.source == "none" && !response->model.empty() && response->model != model) {
      price = pricer_->price(backend, response->model, row.usage, day, /*batch=*/true);
    }
    row.cost = price.cost;
    // The ledger says the batch price applied: "catalog+batch", "config+batch".
    row.price_source = price.source == "none" ? "none" : price.source + "+batch";
    row.baseline_cost = pricer_->baseline(row.tenant, row.usage, day, row.cost);
  }
  row.status = LedgerStatus::ok;
  row.http_status = 200;
  backends::openai::ResponseIdentity who{.id = "chatcmpl-" + row.request_id,
                                         .model = response->model.empty() ? model : response->model,
                                         .created = now_ms() / 1000};
  outcome.status_code = 200;
  outcome.body = backends::openai::encode_chat_response(*response, who);
  outcome.row = std::move(row);
  return outcome;
}

}  // namespace sy::gateway
