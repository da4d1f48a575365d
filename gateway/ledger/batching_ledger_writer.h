#pragma once
// What every LedgerWriter store shares: a bounded queue filled by the request path and one
// background thread that hands whatever has queued (up to max_batch rows) to store() as one
// batch (group commit). A store implements store() only.
//
// Threading: write(), flush(), close() and stats() may be called from any thread; store()
// runs on the writer thread only. A derived class calls start() at the end of its constructor
// and close() at the start of its destructor, so the thread never outlives its members.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/gateway/ledger.h"

namespace sy::gateway {

class BatchingLedgerWriter : public LedgerWriter {
 public:
  ~BatchingLedgerWriter() override;

  bool write(LedgerRow row) override;
  void flush() override;
  void close() override;
  LedgerStats stats() const override;

 protected:
  // `what` names the store in log lines ("ledger (postgres)").
  BatchingLedgerWriter(std::string what, size_t queue_capacity, size_t max_batch);

  void start();
  // Stores `batch` as one transaction. true = stored; false = the rows are lost (the store has
  // logged why). A store that can retry should, until closing() says to give up.
  virtual bool store(const std::vector<LedgerRow>& batch) = 0;

  // For stores that retry: whether close() was called.
  bool closing() const;
  // Sleeps `delay`, waking early when close() is called.
  void sleep_unless_closing(std::chrono::milliseconds delay);
  void count_retry();

 private:
  void run();

  const std::string what_;
  const size_t queue_capacity_;
  const size_t max_batch_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<LedgerRow> queue_;
  std::deque<std::chrono::steady_clock::time_point> enqueued_at_;  // (queue_.size())
  // When the oldest row of the batch being stored was accepted; nullopt between batches. With
  // enqueued_at_ it gives the write lag (LedgerStats::oldest_pending_age).
  std::optional<std::chrono::steady_clock::time_point> storing_since_;
  LedgerStats stats_;
  uint64_t processed_ = 0;  // rows stored or failed, in acceptance order
  bool closing_ = false;
  std::mutex join_mutex_;
  std::thread thread_;
};

}  // namespace sy::gateway
