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
    if (closing_ || queue_.size() >= queue_capacity_) {
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
    wake = idle_ || queue_.size() == max_batch_;
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
  out.queued = queue_.size();
  // The batch being stored holds older rows than the queue.
  std::optional<std::chrono::steady_clock::time_point> oldest = storing_since_;
  if (!oldest && !enqueued_at_.empty()) oldest = enqueued_at_.front();
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

void BatchingLedgerWriter::run() {
  // Named so that per-thread CPU figures (top -H, bench/ledger/overhead.sh) can tell it apart.
  pthread_setname_np(pthread_self(), "sy-ledger");
  std::vector<LedgerRow> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (queue_.empty() && !closing_) {
        idle_ = true;
        work_cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
        idle_ = false;
      }
      if (queue_.empty()) return;  // closing and drained
      // Group commit: let rows gather until the oldest has waited commit_interval.
      if (commit_interval_.count() > 0) {
        work_cv_.wait_until(lock, enqueued_at_.front() + commit_interval_, [&] {
          return closing_ || flush_waiters_ > 0 || queue_.size() >= max_batch_;
        });
      }
      const size_t n = std::min(queue_.size(), max_batch_);
      batch.clear();
      storing_since_ = enqueued_at_.front();
      if (n == queue_.size()) {
        // The usual case, the whole queue: the two buffers trade places, so that neither a row
        // nor a batch costs an allocation once they have grown to the load.
        batch.swap(queue_);
        enqueued_at_.clear();
        // A buffer grown past one batch by a backlog is not kept for good.
        if (queue_.capacity() > max_batch_) {
          queue_ = {};
          enqueued_at_ = {};
        }
      } else {
        // A backlog beyond one batch: the rest moves up (rare, and only row moves).
        const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(n);
        batch.reserve(n);
        std::move(queue_.begin(), end, std::back_inserter(batch));
        queue_.erase(queue_.begin(), end);
        enqueued_at_.erase(enqueued_at_.begin(),
                           enqueued_at_.begin() + static_cast<std::ptrdiff_t>(n));
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
