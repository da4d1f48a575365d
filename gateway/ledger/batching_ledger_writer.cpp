#include "ledger/batching_ledger_writer.h"

#include <pthread.h>

#include <algorithm>
#include <cstddef>
#include <iterator>

#include <spdlog/spdlog.h>

namespace sy::gateway {

BatchingLedgerWriter::BatchingLedgerWriter(std::string what, size_t queue_capacity,
                                           size_t max_batch,
                                           std::chrono::microseconds commit_interval)
    : what_(std::move(what)),
      queue_capacity_(queue_capacity),
      max_batch_(std::max<size_t>(1, max_batch)),
      commit_interval_(std::max(std::chrono::microseconds(0), commit_interval)) {}

BatchingLedgerWriter::~BatchingLedgerWriter() { close(); }

void BatchingLedgerWriter::start() {
  thread_ = std::thread([this] { run(); });
}

bool BatchingLedgerWriter::write(LedgerRow row) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (closing_ || queued() >= queue_capacity_) {
      ++stats_.dropped;
      // Logged at most once per power of two, so a full queue does not flood the log.
      if ((stats_.dropped & (stats_.dropped - 1)) == 0) {
        spdlog::error("{}: {} rows dropped ({})", what_, stats_.dropped,
                      closing_ ? "writer closed" : "queue full");
      }
      return false;
    }
    queue_.push_back(std::move(row));
    enqueued_at_.push_back(std::chrono::steady_clock::now());
    ++stats_.accepted;
    // While the writer waits out the commit interval it needs no wake-up (a futex call and a
    // context switch per row), unless a whole batch is ready.
    wake = idle_ || queued() == max_batch_;
    if (idle_) idle_ = false;
  }
  if (wake) work_cv_.notify_one();
  return true;
}

void BatchingLedgerWriter::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = stats_.accepted;
  if (processed_ >= target) return;
  ++flush_waiters_;
  work_cv_.notify_all();  // cuts the commit interval short
  done_cv_.wait(lock, [&] { return processed_ >= target; });
  --flush_waiters_;
}

void BatchingLedgerWriter::close() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  work_cv_.notify_all();
  std::lock_guard join_lock(join_mutex_);
  if (thread_.joinable()) thread_.join();
}

LedgerStats BatchingLedgerWriter::stats() const {
  std::lock_guard lock(mutex_);
  LedgerStats out = stats_;
  out.queued = queued();
  // The batch being stored holds older rows than the queue.
  std::optional<std::chrono::steady_clock::time_point> oldest = storing_since_;
  if (!oldest && queued() > 0) oldest = oldest_queued();
  if (oldest) out.oldest_pending_age = std::chrono::steady_clock::now() - *oldest;
  return out;
}

bool BatchingLedgerWriter::closing() const {
  std::lock_guard lock(mutex_);
  return closing_;
}

void BatchingLedgerWriter::sleep_unless_closing(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  work_cv_.wait_for(lock, delay, [&] { return closing_; });
}

void BatchingLedgerWriter::count_retry() {
  std::lock_guard lock(mutex_);
  ++stats_.retries;
}

std::chrono::steady_clock::time_point BatchingLedgerWriter::oldest_queued() const {
  return backlog_head_ < backlog_.size() ? backlog_at_[backlog_head_] : enqueued_at_.front();
}

void BatchingLedgerWriter::run() {
  // Named so that per-thread CPU figures (top -H, bench/ledger/overhead.sh) can tell it apart.
  pthread_setname_np(pthread_self(), "sy-ledger");
  std::vector<LedgerRow> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (queued() == 0 && !closing_) {
        idle_ = true;
        work_cv_.wait(lock, [&] { return queued() > 0 || closing_; });
        idle_ = false;
      }
      if (queued() == 0) return;  // closing and drained
      // Group commit: let rows gather until the oldest has waited commit_interval.
      if (commit_interval_.count() > 0) {
        work_cv_.wait_until(lock, oldest_queued() + commit_interval_, [&] {
          return closing_ || flush_waiters_ > 0 || queued() >= max_batch_;
        });
      }
      batch.clear();
      storing_since_ = oldest_queued();
      if (backlog_head_ == backlog_.size() && queue_.size() <= max_batch_) {
        // The usual case, the whole queue: the two buffers trade places, so that neither a row
        // nor a batch costs an allocation once they have grown to the load.
        batch.swap(queue_);
        enqueued_at_.clear();
      } else {
        // A backlog beyond one batch: the queue moves to backlog_ whole once the backlog is
        // spent, and each batch takes the next max_batch_ rows of it.
        if (backlog_head_ == backlog_.size()) {  // spent, so empty (reset below)
          backlog_.swap(queue_);
          backlog_at_.swap(enqueued_at_);
        }
        const size_t n = std::min(backlog_.size() - backlog_head_, max_batch_);
        const auto first = backlog_.begin() + static_cast<std::ptrdiff_t>(backlog_head_);
        batch.reserve(n);
        std::move(first, first + static_cast<std::ptrdiff_t>(n), std::back_inserter(batch));
        backlog_head_ += n;
        if (backlog_head_ == backlog_.size()) {  // spent: its memory is not kept
          backlog_ = {};
          backlog_at_ = {};
          backlog_head_ = 0;
        }
      }
      // A buffer grown past one batch by a backlog is not kept for good.
      if (queue_.empty() && queue_.capacity() > max_batch_) {
        queue_ = {};
        enqueued_at_ = {};
      }
    }
    const bool ok = store(batch);
    {
      std::lock_guard lock(mutex_);
      processed_ += batch.size();
      storing_since_.reset();
      if (ok) {
        stats_.committed += batch.size();
        ++stats_.batches;
      } else {
        stats_.failed += batch.size();
      }
    }
    done_cv_.notify_all();
  }
}

}  // namespace sy::gateway
