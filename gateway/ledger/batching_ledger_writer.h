#pragma once
// What every LedgerWriter store shares: a bounded queue filled by the request path and one
// background thread that hands whatever has queued (up to max_batch rows) to store() as one
// batch (group commit). A store implements store() only.
//
// Commit interval: a batch is started no sooner than `commit_interval` after its oldest row
// was accepted (or at once when max_batch rows wait, or flush()/close() asks). At a few
// thousand requests/s a transaction per row cost the writer thread ~25 us of CPU per row and
// the request thread a futex wake per row; gathering 20 ms of rows (the default) amortises
// the transaction and the WAL write, and write() wakes the writer only when it sleeps on an
// empty queue. A row is thus stored at most commit_interval plus one transaction after
// write() (bench/RESULTS.md, "## ledger").
//
// Threading: write(), flush(), close() and stats() may be called from any thread; store()
// runs on the writer thread only. A derived class calls start() at the end of its constructor
// and close() at the start of its destructor, so the thread never outlives its members.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/gateway/ledger.h"

namespace sy::gateway {

class BatchingLedgerWriter : public LedgerWriter {
 public:
  static constexpr std::chrono::microseconds kDefaultCommitInterval{20'000};

  ~BatchingLedgerWriter() override;

  bool write(LedgerRow row) override;
  void flush() override;
  void close() override;
  LedgerStats stats() const override;

 protected:
  // `what` names the store in log lines ("ledger (postgres)").
  BatchingLedgerWriter(std::string what, size_t queue_capacity, size_t max_batch,
                       std::chrono::microseconds commit_interval = kDefaultCommitInterval);

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
  // Rows accepted and not yet taken into a batch (the backlog's, then the queue's). Locked.
  size_t queued() const { return backlog_.size() - backlog_head_ + queue_.size(); }
  // When the oldest of them was accepted; queued() > 0. Locked.
  std::chrono::steady_clock::time_point oldest_queued() const;

  const std::string what_;
  const size_t queue_capacity_;
  const size_t max_batch_;
  const std::chrono::microseconds commit_interval_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  // Vectors, not deques: run() swaps the queue with its batch, so a row costs no allocation
  // (a deque allocates a node per row of this size).
  std::vector<LedgerRow> queue_;
  std::vector<std::chrono::steady_clock::time_point> enqueued_at_;  // (queue_.size())
  // A queue longer than one batch moves here whole (a swap), and batches are taken from its
  // front by index, so a backlog costs each row one move and nothing is erased from a front.
  // Older than every row of queue_.
  std::vector<LedgerRow> backlog_;
  std::vector<std::chrono::steady_clock::time_point> backlog_at_;  // (backlog_.size())
  size_t backlog_head_ = 0;  // backlog_[0, backlog_head_) are taken (moved from)
  // When the oldest row of the batch being stored was accepted; nullopt between batches.
  std::optional<std::chrono::steady_clock::time_point> storing_since_;
  LedgerStats stats_;
  uint64_t processed_ = 0;  // rows stored or failed, in acceptance order
  bool closing_ = false;
  bool idle_ = false;           // the writer sleeps on an empty queue: write() must wake it
  uint64_t flush_waiters_ = 0;  // flush() calls waiting: no commit interval for them
  std::mutex join_mutex_;
  std::thread thread_;
};

}  // namespace sy::gateway
