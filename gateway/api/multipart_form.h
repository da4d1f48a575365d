#pragma once
// multipart/form-data (RFC 7578) as HTTP clients send file uploads: each part's field name,
// optional filename and content. MultipartReader reads a body as it arrives (an upload streamed
// to disk: memory bounded by a part's headers, 16 KiB); parse_multipart reads a buffered one.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/error.h"

namespace sy::gateway {

struct FormPart {
  std::string name;
  std::string filename;  // "" when the part is a plain field
  std::string content_type;
  std::string content;  // parse_multipart only: MultipartReader passes contents through
};

// Reads a multipart body in pieces of any size, calling `begin` at each part's headers, `data`
// with its content in pieces and `end` at its end; an event's error stops the reader and is
// returned (and returned again by every later call). Errors of the body's form are
// invalid_request. Bytes after the closing delimiter are ignored. Not thread-safe.
class MultipartReader {
 public:
  struct Events {
    std::function<backends::Status(const FormPart& part)> begin;  // part.content is empty
    std::function<backends::Status(std::string_view bytes)> data;
    std::function<backends::Status()> end;
  };
  MultipartReader(std::string_view boundary, Events events);

  backends::Status feed(std::string_view bytes);
  // The body ended: an error unless the closing delimiter came.
  backends::Status finish();

 private:
  enum class State { preamble, after_delimiter, headers, content, done };
  backends::Status fail(std::string message);
  backends::Status stop(backends::Status status);
  backends::Status step(bool& progressed);

  const std::string delimiter_;       // "--" boundary
  const std::string next_delimiter_;  // CRLF "--" boundary: ends a part's content
  Events events_;
  State state_ = State::preamble;
  std::string pending_;  // bytes not yet consumed: a partial delimiter or header block
  std::optional<backends::Error> failed_;
};

// The boundary from a content-type header value ("multipart/form-data; boundary=..."), quoted
// or not; invalid_request when the type is not multipart/form-data or has no boundary.
backends::Result<std::string> multipart_boundary(std::string_view content_type);

// Splits a whole `body` at `boundary` (MultipartReader, contents copied). invalid_request when
// the body is not well-formed (no closing delimiter, a part without headers' end, no name).
backends::Result<std::vector<FormPart>> parse_multipart(std::string_view body,
                                                        std::string_view boundary);

}  // namespace sy::gateway
