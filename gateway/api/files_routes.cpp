// ApiHandler's Files API (OpenAI's shapes): POST /v1/files (multipart/form-data, purpose batch),
// GET /v1/files, GET /v1/files/{id}, GET /v1/files/{id}/content, DELETE /v1/files/{id}.
// A key sees only its tenant's files. No ledger rows: nothing runs a model here.

#include "api/api_handler.h"
#include "api/batch_http.h"
#include "api/file_upload_sink.h"
#include "api/multipart_form.h"

namespace sy::gateway {

using backends::Error;
using backends::ErrorKind;
using namespace batch_http;

void ApiHandler::files(const ServerRequest& request, const std::string& request_id,
                       ResponseWriter& writer) {
  // "/v1/files", "/v1/files/{id}" or "/v1/files/{id}/content".
  const auto route = open_bulk_route(keys_, batch_.get(), "Files", request, request_id, writer,
                                     "/v1/files", "/content");
  if (!route) return;
  const std::string& tenant = route->principal.tenant;
  const std::string_view target = request.target;
  const std::string& id = route->path.id;
  const bool wants_content = route->path.action;
  auto method_not_allowed = [&] {
    reply_method_not_allowed(writer, request.method, route->path.path, request_id);
  };

  if (id.empty()) {
    if (request.method == "GET") {
      const size_t limit = list_limit(target, 100);
      auto items = batch_->list_files(tenant, query_param(target, "purpose").value_or(""),
                                      limit + 1, query_param(target, "after").value_or(""));
      const bool more = items.size() > limit;
      if (more) items.pop_back();
      return reply_json(writer, list_json(items, more, file_json), request_id);
    }
    if (request.method != "POST") return method_not_allowed();
    // Normally the body streamed into the sink as it arrived (body_sink); a body that was
    // buffered instead (no valid key or boundary when the headers came) goes through one now.
    auto sink = std::dynamic_pointer_cast<FileUploadSink>(request.body_sink);
    if (!sink) {
      auto boundary =
          multipart_boundary(backends::find_header(request.headers, "content-type").value_or(""));
      if (!boundary) return reply_error(writer, boundary.error(), request_id);
      sink = std::make_shared<FileUploadSink>(*boundary, batch_->begin_upload());
      if (auto fed = sink->write(request.body); !fed) {
        return reply_error(writer, fed.error(), request_id);
      }
    }
    if (auto finished = sink->finish(); !finished) {
      return reply_error(writer, finished.error(), request_id);
    }
    if (!sink->has_file()) {
      return reply_error(writer,
                         Error{.kind = ErrorKind::invalid_request,
                               .message = "Missing the 'file' part",
                               .param = "file"},
                         request_id);
    }
    auto stored = batch_->commit_upload(tenant, sink->filename(), sink->purpose(), sink->upload());
    if (!stored) return reply_error(writer, stored.error(), request_id);
    return reply_json(writer, file_json(*stored), request_id);
  }

  if (wants_content) {
    if (request.method != "GET") return method_not_allowed();
    auto text = batch_->content(tenant, id);
    if (!text) return reply_error(writer, text.error(), request_id);
    return writer.respond(
        200, {{"content-type", "application/octet-stream"}, {"x-request-id", request_id}},
        std::move(*text));
  }
  if (request.method == "GET") {
    auto record = batch_->file(tenant, id);
    if (!record) return reply_error(writer, record.error(), request_id);
    return reply_json(writer, file_json(*record), request_id);
  }
  if (request.method == "DELETE") {
    auto removed = batch_->remove_file(tenant, id);
    if (!removed) return reply_error(writer, removed.error(), request_id);
    return reply_json(writer, {{"id", id}, {"object", "file"}, {"deleted", true}}, request_id);
  }
  method_not_allowed();
}

std::shared_ptr<BodySink> ApiHandler::body_sink(const ServerRequest& head) {
  const std::string_view target = head.target;
  if (!batch_ || head.method != "POST" || target.substr(0, target.find('?')) != "/v1/files") {
    return nullptr;
  }
  // Without a key or a boundary the body is buffered (bounded by limits.max_body_bytes) and
  // files() answers the error: no disk is written for a caller who cannot upload.
  if (!keys_.authenticate(head.headers)) return nullptr;
  auto boundary =
      multipart_boundary(backends::find_header(head.headers, "content-type").value_or(""));
  if (!boundary) return nullptr;
  return std::make_shared<FileUploadSink>(*boundary, batch_->begin_upload());
}

}  // namespace sy::gateway
