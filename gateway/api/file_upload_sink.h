#pragma once
// POST /v1/files as its body arrives: the multipart form is read piece by piece, the `file`
// part goes straight to a FileUpload (a temporary file, validated line by line) and the
// `purpose` field is kept (at most 1 KiB). Other fields are read and dropped. The HTTP server
// feeds it on the connection's strand; files_routes.cpp then commits the upload.

#include <memory>
#include <string>

#include "api/multipart_form.h"
#include "batch/file_upload.h"
#include "switchyard/gateway/http_server.h"

namespace sy::gateway {

class FileUploadSink final : public BodySink {
 public:
  FileUploadSink(std::string_view boundary, std::unique_ptr<FileUpload> upload);

  backends::Status write(std::string_view bytes) override;
  // The body is complete: an error when the form was cut short or a piece was refused.
  backends::Status finish();

  bool has_file() const { return has_file_; }
  const std::string& filename() const { return filename_; }
  const std::string& purpose() const { return purpose_; }
  FileUpload& upload() { return *upload_; }

 private:
  enum class Field { none, file, purpose, other };

  std::unique_ptr<FileUpload> upload_;
  MultipartReader reader_;
  Field field_ = Field::none;
  bool has_file_ = false;
  std::string filename_;
  std::string purpose_;
};

}  // namespace sy::gateway
