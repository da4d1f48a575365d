#pragma once
// multipart/form-data (RFC 7578) as HTTP clients send file uploads: the parts of a buffered
// body, each with its field name, optional filename and content. Bounded by the body itself:
// no part is copied beyond the body's size.

#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/error.h"

namespace sy::gateway {

struct FormPart {
  std::string name;
  std::string filename;  // "" when the part is a plain field
  std::string content_type;
  std::string_view content;  // points into the body
};

// The boundary from a content-type header value ("multipart/form-data; boundary=..."), quoted
// or not; invalid_request when the type is not multipart/form-data or has no boundary.
backends::Result<std::string> multipart_boundary(std::string_view content_type);

// Splits `body` at `boundary`. The parts' contents point into `body`. invalid_request when the
// body is not well-formed (no closing delimiter, a part without headers' end, no name).
backends::Result<std::vector<FormPart>> parse_multipart(std::string_view body,
                                                        std::string_view boundary);

}  // namespace sy::gateway
