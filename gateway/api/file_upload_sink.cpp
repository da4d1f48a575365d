#include "api/file_upload_sink.h"

namespace sy::gateway {

using backends::ErrorKind;

namespace {
constexpr size_t kMaxFieldBytes = 1024;  // purpose is a short word
}

FileUploadSink::FileUploadSink(std::string_view boundary, std::unique_ptr<FileUpload> upload)
    : upload_(std::move(upload)),
      reader_(boundary, {.begin = [this](const FormPart& part) -> backends::Status {
                           if (part.name == "file") {
                             if (has_file_) {
                               return backends::fail(ErrorKind::invalid_request,
                                                     "More than one 'file' part");
                             }
                             has_file_ = true;
                             filename_ = part.filename;
                             field_ = Field::file;
                           } else if (part.name == "purpose") {
                             purpose_.clear();
                             field_ = Field::purpose;
                           } else {
                             field_ = Field::other;
                           }
                           return {};
                         },
                         .data = [this](std::string_view bytes) -> backends::Status {
                           switch (field_) {
                             case Field::file:
                               return upload_->append(bytes);
                             case Field::purpose:
                               if (purpose_.size() + bytes.size() > kMaxFieldBytes) {
                                 return backends::fail(ErrorKind::invalid_request,
                                                       "The 'purpose' field is too long");
                               }
                               purpose_.append(bytes);
                               return {};
                             default:
                               return {};
                           }
                         },
                         .end = [this]() -> backends::Status {
                           field_ = Field::none;
                           return {};
                         }}) {}

backends::Status FileUploadSink::write(std::string_view bytes) { return reader_.feed(bytes); }

backends::Status FileUploadSink::finish() { return reader_.finish(); }

}  // namespace sy::gateway
