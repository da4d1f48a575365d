#pragma once
// BatchStore in one SQLite file (WAL) with numbered migrations (PRAGMA user_version). One
// connection behind a mutex. sqlite3.h stays in the .cpp.

#include <filesystem>
#include <memory>
#include <mutex>

#include "batch/batch_store.h"

struct sqlite3;

namespace sy::gateway {

class SqliteBatchStore final : public BatchStore {
 public:
  // Opens or creates the store and applies pending migrations; throws std::runtime_error with
  // context (load time) when the file cannot be opened or was written by a newer schema.
  SqliteBatchStore(const std::filesystem::path& path, bool synchronous_full);
  ~SqliteBatchStore() override;
  SqliteBatchStore(const SqliteBatchStore&) = delete;
  SqliteBatchStore& operator=(const SqliteBatchStore&) = delete;

  static int schema_version();
  struct DbCloser {
    void operator()(sqlite3* db) const;
  };

  backends::Status insert_file(const FileRecord& file) override;
  std::optional<FileRecord> file(const std::string& id) const override;
  std::vector<FileRecord> list_files(const std::string& tenant, const std::string& purpose,
                                     size_t limit, const std::string& after) const override;
  backends::Status delete_file(const std::string& id) override;

  backends::Status insert_batch(const BatchRecord& batch) override;
  std::optional<BatchRecord> batch(const std::string& id) const override;
  std::vector<BatchRecord> list_batches(const std::string& tenant, size_t limit,
                                        const std::string& after) const override;
  std::vector<BatchRecord> unfinished_batches() const override;
  backends::Status update_batch(const BatchRecord& batch) override;
  backends::Result<bool> transition(const std::string& id, std::initializer_list<BatchStatus> from,
                                    BatchStatus to, int64_t at) override;

  backends::Result<bool> record_line(const std::string& batch_id, const LineResult& result,
                                     const std::string& row_json, int64_t tokens_in,
                                     int64_t tokens_out, int64_t cost_micro_usd) override;
  std::set<int64_t> done_lines(const std::string& batch_id) const override;
  std::vector<LineResult> results(const std::string& batch_id) const override;
  std::vector<UnbilledRow> unbilled() const override;
  backends::Status mark_billed(const std::vector<std::pair<std::string, int64_t>>& lines) override;

  backends::Result<int64_t> insert_vendor_batch(const VendorBatchRecord& record) override;
  backends::Status set_vendor_batch_id(int64_t id, const std::string& vendor_batch_id) override;
  std::vector<VendorBatchRecord> open_vendor_batches() const override;
  std::set<std::string> vendor_batch_ids(const std::string& backend,
                                         int64_t since_ms) const override;
  backends::Status mark_vendor_batch_done(int64_t id) override;
  backends::Status mark_vendor_batch_cancel_sent(int64_t id) override;

 private:
  backends::Status exec_locked(const char* sql);
  mutable std::mutex mutex_;
  std::unique_ptr<sqlite3, DbCloser> db_;
};

// Which of `request_ids` the SQLite ledger at `path` has among its rows with time_ms >=
// `since_ms` (the restart repair asks which outbox rows the ledger already has). Empty when the
// file does not exist.
backends::Result<std::set<std::string>> sqlite_ledger_request_ids(const std::filesystem::path& path,
                                                                  int64_t since_ms);

}  // namespace sy::gateway
