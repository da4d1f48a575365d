#include "ledger/batching_ledger_writer.h"

#include <pthread.h>

#include <algorithm>

#include <spdlog/spdlog.h>

namespace sy::gateway {

BatchingLedgerWriter::BatchingLedgerWriter(std::string what, size_t queue_capacity,
                                           size_t max_batch)
    : what_(std::move(what)),
      queue_capacity_(queue_capacity),
      max_batch_(std::max<size_t>(1, max_batch)) {}

BatchingLedgerWriter::~BatchingLedgerWriter() { close(); }

void BatchingLedgerWriter::start() {
  thread_ = std::thread([this] { run(); });
}

bool BatchingLedgerWriter::write(LedgerRow row) {
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
  }
  work_cv_.notify_one();
  return true;
}

void BatchingLedgerWriter::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = stats_.accepted;
  done_cv_.wait(lock, [&] { return processed_ >= target; });
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
      work_cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing and drained
      const size_t n = std::min(queue_.size(), max_batch_);
      batch.clear();
      batch.reserve(n);
      storing_since_ = enqueued_at_.front();
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
        enqueued_at_.pop_front();
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
