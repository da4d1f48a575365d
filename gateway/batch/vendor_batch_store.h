#pragma once
// Which lines of which batch job were submitted to which vendor batch: what a restart needs to
// resume polling instead of submitting again. One SQLite file (WAL) beside the job store,
// with its own numbered migrations (PRAGMA user_version), so the job store's schema (and its
// PostgreSQL variant) stays untouched by this feature.
//
// A vendor batch is stored only once the vendor accepted it (its id known): a crash between
// the vendor's answer and this insert submits those lines again after the restart (the vendor
// runs them twice; our ledger still bills each line once, by its result's primary key).
//
// Thread-safe: one connection behind a mutex. Open errors throw std::runtime_error with
// context (load time); data-plane errors are backends::Error.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "switchyard/backends/error.h"

struct sqlite3;

namespace sy::gateway {

struct VendorBatchLine {
  int64_t line = 0;       // 0-based index in the job's input file
  std::string custom_id;  // what the vendor was sent (ours, never the client's)
  std::string row_json;   // the line's ledger row as planned (ledger_row_json.h)
};

struct VendorBatchRecord {
  int64_t id = 0;         // ours, assigned by insert()
  std::string batch_id;   // the job
  std::string backend;    // config name of the backend it went to
  std::string vendor_batch_id;
  int64_t submitted_at_ms = 0;
  bool cancel_sent = false;
  std::vector<VendorBatchLine> lines;
};

class VendorBatchStore {
 public:
  VendorBatchStore(const std::filesystem::path& path, bool synchronous_full);
  ~VendorBatchStore();
  VendorBatchStore(const VendorBatchStore&) = delete;
  VendorBatchStore& operator=(const VendorBatchStore&) = delete;

  backends::Result<int64_t> insert(const VendorBatchRecord& record);
  // Vendor batches whose results were not all delivered yet, oldest first.
  std::vector<VendorBatchRecord> open_batches() const;
  backends::Status mark_done(int64_t id);
  backends::Status mark_cancel_sent(int64_t id);

  struct DbCloser {
    void operator()(sqlite3* db) const;
  };

 private:
  mutable std::mutex mutex_;
  std::unique_ptr<sqlite3, DbCloser> db_;
};

}  // namespace sy::gateway
