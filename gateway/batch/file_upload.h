#pragma once
// One upload in progress (POST /v1/files): its bytes go to a temporary file as they arrive and
// are validated line by line, so memory stays bounded whatever the file's size. Nothing stays
// behind unless BatchService::commit_upload takes the file: the destructor removes it, and
// BatchService removes temporaries a crash left (`*.part` under files/) when it opens.
//
// Errors stick: after the first one (too large, a bad line, a failed write) every call
// returns it. Not thread-safe: one request feeds it.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>

#include "batch/batch_input.h"
#include "switchyard/backends/error.h"

namespace sy::gateway {

struct FileUploadLimits {
  size_t max_bytes = 0;       // payload_too_large past it
  size_t max_lines = 0;       // requests in the file
  size_t max_line_bytes = 0;  // one request line
  bool sync = false;          // fdatasync before commit (batch.synchronous_full)
};

class FileUpload {
 public:
  // Creates `temp_path` (internal error when it cannot).
  FileUpload(std::filesystem::path temp_path, FileUploadLimits limits);
  ~FileUpload();
  FileUpload(const FileUpload&) = delete;
  FileUpload& operator=(const FileUpload&) = delete;

  backends::Status append(std::string_view bytes);
  // The last byte arrived: validates the end of the file and flushes it to the disk.
  backends::Status finish();

  int64_t bytes() const { return bytes_; }
  int64_t requests() const { return static_cast<int64_t>(reader_.requests()); }
  const std::filesystem::path& temp_path() const { return temp_path_; }
  // The file moved to its final place (commit): the destructor leaves it alone.
  void release() { released_ = true; }

 private:
  backends::Status fail(backends::Error error);

  const std::filesystem::path temp_path_;
  const FileUploadLimits limits_;
  std::ofstream out_;
  BatchInputReader reader_;
  int64_t bytes_ = 0;
  bool released_ = false;
  bool finished_ = false;
  std::optional<backends::Error> failed_;
};

}  // namespace sy::gateway
