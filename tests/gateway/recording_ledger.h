#pragma once
// A LedgerWriter that keeps every row in memory, for tests that check what was ledgered.
// Thread-safe: the gateway writes rows from its I/O threads.

#include <mutex>
#include <utility>
#include <vector>

#include "switchyard/gateway/ledger.h"

namespace sy::testing {

class RecordingLedger : public gateway::LedgerWriter {
 public:
  bool write(gateway::LedgerRow row) override {
    std::lock_guard lock(mutex_);
    rows_.push_back(std::move(row));
    return true;
  }
  void flush() override {}
  void close() override {}
  gateway::LedgerStats stats() const override { return {}; }
  std::vector<gateway::LedgerRow> rows() const {
    std::lock_guard lock(mutex_);
    return rows_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<gateway::LedgerRow> rows_;
};

}  // namespace sy::testing
