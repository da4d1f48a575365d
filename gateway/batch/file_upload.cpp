#include "batch/file_upload.h"

#include <fcntl.h>
#include <unistd.h>

namespace sy::gateway {

using backends::ErrorKind;

FileUpload::FileUpload(std::filesystem::path temp_path, FileUploadLimits limits)
    : temp_path_(std::move(temp_path)),
      limits_(limits),
      out_(temp_path_, std::ios::binary | std::ios::trunc),
      reader_(limits.max_lines, limits.max_line_bytes) {
  if (!out_)
    failed_ = backends::Error{.kind = ErrorKind::internal,
                              .message = "cannot create " + temp_path_.string()};
}

FileUpload::~FileUpload() {
  out_.close();
  if (released_) return;
  std::error_code ec;
  std::filesystem::remove(temp_path_, ec);
}

backends::Status FileUpload::fail(backends::Error error) {
  failed_ = std::move(error);
  out_.close();
  std::error_code ec;
  std::filesystem::remove(temp_path_, ec);  // nothing half-written stays while the body drains
  return std::unexpected(*failed_);
}

backends::Status FileUpload::append(std::string_view bytes) {
  if (failed_) return std::unexpected(*failed_);
  if (finished_) return fail({.kind = ErrorKind::internal, .message = "upload already finished"});
  if (bytes.size() > limits_.max_bytes - static_cast<size_t>(bytes_)) {
    return fail({.kind = ErrorKind::payload_too_large,
                 .message = "The file is larger than " + std::to_string(limits_.max_bytes) +
                            " bytes (batch.max_file_bytes)"});
  }
  if (auto checked = reader_.feed(bytes); !checked) return fail(checked.error());
  out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out_) return fail({.kind = ErrorKind::internal, .message = "writing the upload failed"});
  bytes_ += static_cast<int64_t>(bytes.size());
  return {};
}

backends::Status FileUpload::finish() {
  if (failed_) return std::unexpected(*failed_);
  if (finished_) return {};
  if (auto checked = reader_.finish(); !checked) return fail(checked.error());
  out_.flush();
  out_.close();
  if (!out_) return fail({.kind = ErrorKind::internal, .message = "writing the upload failed"});
  // The file record is committed next: with power-loss durability asked for, the bytes it
  // names must be on the disk first (a kill alone loses nothing written to the page cache).
  const int fd = limits_.sync ? ::open(temp_path_.c_str(), O_RDONLY | O_CLOEXEC) : -1;
  if (fd >= 0) {
    ::fdatasync(fd);
    ::close(fd);
  }
  finished_ = true;
  return {};
}

}  // namespace sy::gateway
