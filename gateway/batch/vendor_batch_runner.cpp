#include "batch/vendor_batch_runner.h"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "api/error_reply.h"
#include "batch/ledger_row_json.h"
#include "batch/legacy_vendor_batches.h"
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

// How far before an intent's time a vendor batch may be stamped and still be it: clocks of the
// gateway and the vendor differ. A wider window only costs a longer listing.
constexpr int64_t kClockSkewS = 600;

// Deterministic per (job, chunk): a chunk is named by its first line, which no other open
// chunk of the job holds. [A-Za-z0-9_-], under 64 characters for job ids "batch_<24 hex>".
std::string tag_for(const std::string& batch_id, int64_t first_line) {
  return "sy-" + batch_id + "-" + std::to_string(first_line);
}

BatchStore& required(BatchStore* store) {
  if (!store) throw std::runtime_error("vendor batch runner: no job store");
  return *store;
}

}  // namespace

VendorBatchRunner::VendorBatchRunner(VendorBatchRunnerOptions options,
                                     std::map<std::string, VendorBatchBackend> backends,
                                     std::shared_ptr<const RequestPricer> pricer)
    : options_(std::move(options)),
      backends_(std::move(backends)),
      pricer_(std::move(pricer)),
      store_(required(options_.store)) {
  if (!options_.legacy_store_path.empty()) {
    if (const size_t n = import_legacy_vendor_batches(options_.legacy_store_path, store_); n > 0) {
      spdlog::info("vendor batches: {} imported from {}", n, options_.legacy_store_path.string());
    }
  }
  const auto now = std::chrono::steady_clock::now();
  for (VendorBatchRecord& record : store_.open_vendor_batches()) {
    auto backend = backends_.find(record.backend);
    Active active{.record = std::move(record)};
    active.interval = backend != backends_.end() ? backend->second.poll_initial
                                                 : std::chrono::milliseconds(5'000);
    active.next_poll = now;  // a restart asks at once how far the vendor got
    active_.push_back(std::move(active));
  }
}

VendorBatchRunner::~VendorBatchRunner() { stop(); }

void VendorBatchRunner::reconcile_intents() {
  std::vector<Active> intents;
  {
    std::lock_guard lock(mutex_);
    for (const Active& a : active_) {
      if (a.record.vendor_batch_id.empty()) intents.push_back(a);
    }
  }
  for (Active& intent : intents) {
    auto backend = backends_.find(intent.record.backend);
    if (backend == backends_.end()) continue;  // the worker fails its lines
    auto found = backend->second.client->find_submitted(search_for(intent.record));
    if (!found) {
      spdlog::warn("batch {}: could not ask {} about vendor batch {} ({}); asking again later",
                   intent.record.batch_id, intent.record.backend, intent.record.tag,
                   found.error().message);
      continue;
    }
    switch (found->match) {
      case backends::VendorBatchMatch::found:
        spdlog::info("batch {}: {} had accepted {} as {} before the restart",
                     intent.record.batch_id, intent.record.backend, intent.record.tag,
                     found->batch_id);
        adopt(intent, found->batch_id);
        break;
      case backends::VendorBatchMatch::absent:
        // Never reached the vendor: the job plans these lines again (the requests were never
        // stored, only their ids).
        spdlog::info("batch {}: {} never received {}; its {} lines are planned again",
                     intent.record.batch_id, intent.record.backend, intent.record.tag,
                     intent.record.lines.size());
        if (auto marked = store_.mark_vendor_batch_done(intent.record.id); !marked) {
          spdlog::error("batch {}: {}", intent.record.batch_id, marked.error().message);
          continue;  // still stored: keep owning its lines rather than run them twice
        }
        intent.record.id = 0;  // removed below
        break;
      case backends::VendorBatchMatch::undecided:
        spdlog::info("batch {}: {} cannot tell yet whether it holds {}; asking again later",
                     intent.record.batch_id, intent.record.backend, intent.record.tag);
        continue;
    }
    std::lock_guard lock(mutex_);
    for (auto it = active_.begin(); it != active_.end(); ++it) {
      if (it->record.vendor_batch_id.empty() && it->record.batch_id == intent.record.batch_id &&
          it->record.tag == intent.record.tag) {
        if (intent.record.id == 0) {
          active_.erase(it);
        } else {
          *it = std::move(intent);
        }
        break;
      }
    }
  }
}

backends::VendorBatchSearch VendorBatchRunner::search_for(const VendorBatchRecord& record) const {
  backends::VendorBatchSearch search{
      .tag = record.tag,
      .custom_ids = {},
      .since_unix_s = record.submitted_at_ms / 1000 - kClockSkewS,
      .known_ids =
          store_.vendor_batch_ids(record.backend, record.submitted_at_ms - 2 * kClockSkewS * 1000)};
  for (const VendorBatchLine& line : record.lines) search.custom_ids.push_back(line.custom_id);
  return search;
}

void VendorBatchRunner::adopt(Active& active, const std::string& vendor_batch_id) {
  active.record.vendor_batch_id = vendor_batch_id;
  active.items.clear();
  active.poll_failures = 0;
  if (active.record.id > 0) {
    if (auto stored = store_.set_vendor_batch_id(active.record.id, vendor_batch_id); !stored) {
      // Not durable: polled from memory; a restart reconciles the intent again (and finds it).
      spdlog::error("batch {}: {}", active.record.batch_id, stored.error().message);
    }
  }
  auto backend = backends_.find(active.record.backend);
  active.interval =
      backend != backends_.end() ? backend->second.poll_initial : std::chrono::milliseconds(5'000);
  active.next_poll = std::chrono::steady_clock::now() + active.interval;
  spdlog::info("batch {}: {} lines submitted to {} as vendor batch {}", active.record.batch_id,
               active.record.lines.size(), active.record.backend, vendor_batch_id);
}

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
      // An intent has nothing to cancel at the vendor yet: reconcile_one decides its lines.
      const bool cancel = cancel_.contains(a.record.batch_id) && !a.record.cancel_sent &&
                          !a.record.vendor_batch_id.empty();
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
    const bool cancel = cancel_.contains(active.record.batch_id) && !active.record.cancel_sent &&
                        !active.record.vendor_batch_id.empty();
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
      (void)store_.mark_vendor_batch_cancel_sent(active.record.id);
      active.next_poll = std::chrono::steady_clock::now();
    } else if (active.record.vendor_batch_id.empty()) {
      finished = reconcile_one(active);
    } else {
      finished = poll_one(active);
    }
    if (finished && active.record.id > 0) {
      if (auto marked = store_.mark_vendor_batch_done(active.record.id); !marked) {
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
  int64_t first_line = -1;
  for (auto& [line, plan] : pending.lines) {
    lines.push_back(
        {.line = line, .custom_id = plan.row.request_id, .row_json = ledger_row_to_json(plan.row)});
    plan.request.stream = false;
    items.push_back({.custom_id = plan.row.request_id, .request = plan.request});
    first_line = first_line < 0 ? line : std::min(first_line, line);
  }
  if (backend == backends_.end()) {
    fail_lines(pending.batch_id, pending.backend, lines,
               Error{.kind = ErrorKind::internal, .message = "no batch API for this backend"});
    return;
  }
  // The intent first: from here on a crash leaves a record that a restart reconciles.
  Active active{.record = {.batch_id = pending.batch_id,
                           .backend = pending.backend,
                           .tag = tag_for(pending.batch_id, first_line),
                           .vendor_batch_id = {},
                           .submitted_at_ms = now_ms(),
                           .lines = std::move(lines)},
                .interval = backend->second.poll_initial,
                .next_poll = std::chrono::steady_clock::now(),
                .items = std::move(items),
                .maybe_submitted = false};
  auto stored = store_.insert_vendor_batch(active.record);
  if (!stored) {
    // Not durable: submitted and polled from memory; a restart would plan these lines again.
    spdlog::error("batch {}: {}", pending.batch_id, stored.error().message);
  }
  active.record.id = stored ? *stored : -static_cast<int64_t>(now_ms());
  if (!reconcile_one(active)) {
    std::lock_guard lock(mutex_);
    active_.push_back(std::move(active));
    return;
  }
  if (active.record.id > 0) {
    if (auto marked = store_.mark_vendor_batch_done(active.record.id); !marked) {
      spdlog::error("batch {}: {}", active.record.batch_id, marked.error().message);
    }
  }
}

bool VendorBatchRunner::reconcile_one(Active& active) {
  const VendorBatchBackend& backend = backends_.at(active.record.backend);
  auto back_off = [&] {
    active.next_poll = std::chrono::steady_clock::now() + active.interval;
    active.interval = std::min(active.interval * 2, backend.poll_max);
  };
  if (active.maybe_submitted) {
    auto found = backend.client->find_submitted(search_for(active.record));
    if (!found) {
      if (found.error().kind == ErrorKind::cancelled && stopping()) return false;
      if (++active.poll_failures >= kMaxPollFailures) {
        fail_lines(active.record.batch_id, active.record.backend, active.record.lines,
                   found.error());
        return true;
      }
      back_off();
      return false;
    }
    active.poll_failures = 0;
    if (found->match == backends::VendorBatchMatch::found) {
      adopt(active, found->batch_id);
      return false;
    }
    if (found->match == backends::VendorBatchMatch::undecided) {
      back_off();
      return false;
    }
  }
  // Not at the vendor: submit it, unless there is no reason or no way to.
  bool cancelled = false;
  {
    std::lock_guard lock(mutex_);
    cancelled = cancel_.contains(active.record.batch_id);
  }
  if (cancelled) {
    fail_lines(active.record.batch_id, active.record.backend, active.record.lines,
               Error{.kind = ErrorKind::upstream_unavailable,
                     .message = "The batch was cancelled before this request was submitted",
                     .code = "batch_cancelled"});
    return true;
  }
  if (active.items.empty() || active.attempts >= options_.submit_attempts) {
    // Read back after a restart (reconcile_intents could not decide then, and the requests
    // are not stored), or out of attempts: the lines go to the error file.
    Error error = active.last_error.value_or(
        Error{.kind = ErrorKind::upstream_unavailable,
              .message = "The vendor could not confirm receiving this request's batch",
              .code = "batch_submit_unconfirmed"});
    spdlog::warn("batch {}: giving up on vendor batch {} ({} lines): {}", active.record.batch_id,
                 active.record.tag, active.record.lines.size(), error.message);
    fail_lines(active.record.batch_id, active.record.backend, active.record.lines, error);
    return true;
  }
  ++active.attempts;
  auto id = backend.client->submit(active.items, active.record.tag);
  if (id) {
    adopt(active, *id);
    return false;
  }
  if (id.error().kind == ErrorKind::cancelled && stopping()) {
    // Shutting down mid-call: the intent stays stored and the restart asks the vendor.
    return false;
  }
  if (!id.error().retryable() && id.error().kind != ErrorKind::cancelled) {
    // The vendor answered with a refusal: it holds no batch of these lines.
    spdlog::warn("batch {}: {} refused a batch of {} lines: {}", active.record.batch_id,
                 active.record.backend, active.record.lines.size(), id.error().message);
    fail_lines(active.record.batch_id, active.record.backend, active.record.lines, id.error());
    return true;
  }
  // A timeout, a reset, a 5xx: the vendor may have accepted it. Ask before trying again.
  active.maybe_submitted = true;
  active.last_error = id.error();
  const auto wait = options_.retry_backoff * (1 << std::min(active.attempts, 10));
  spdlog::warn("batch {}: submitting {} lines to {} failed ({}); asking the vendor in {} ms",
               active.record.batch_id, active.record.lines.size(), active.record.backend,
               id.error().message, wait.count());
  active.next_poll = std::chrono::steady_clock::now() + wait;
  return false;
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
