#include "api/multipart_form.h"

#include <algorithm>
#include <cctype>

namespace sy::gateway {

using backends::ErrorKind;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of `param` in a header value's `; name=value` list (quotes removed), or "".
std::string header_param(std::string_view value, std::string_view param) {
  size_t pos = 0;
  while ((pos = value.find(';', pos)) != std::string_view::npos) {
    ++pos;
    size_t end = pos;
    bool quoted = false;
    while (end < value.size() && (quoted || value[end] != ';')) {
      if (value[end] == '"') quoted = !quoted;
      if (quoted && value[end] == '\\') ++end;
      ++end;
    }
    std::string_view item = trim(value.substr(pos, end - pos));
    const size_t eq = item.find('=');
    if (eq != std::string_view::npos && lower(trim(item.substr(0, eq))) == param) {
      std::string_view raw = trim(item.substr(eq + 1));
      std::string out;
      if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') {
        raw = raw.substr(1, raw.size() - 2);
        for (size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
          out.push_back(raw[i]);
        }
        return out;
      }
      return std::string(raw);
    }
    pos = end;
  }
  return {};
}

auto bad(std::string message) {
  return backends::fail(ErrorKind::invalid_request, "multipart body: " + std::move(message));
}

}  // namespace

backends::Result<std::string> multipart_boundary(std::string_view content_type) {
  const std::string type = lower(trim(content_type.substr(0, content_type.find(';'))));
  if (type != "multipart/form-data") {
    return backends::fail(ErrorKind::invalid_request,
                          "Uploads must be sent as multipart/form-data");
  }
  std::string boundary = header_param(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200) {
    return backends::fail(ErrorKind::invalid_request, "multipart/form-data without a boundary");
  }
  return boundary;
}

backends::Result<std::vector<FormPart>> parse_multipart(std::string_view body,
                                                        std::string_view boundary) {
  const std::string delimiter = "--" + std::string(boundary);
  std::vector<FormPart> parts;
  size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return bad("no boundary found");
  pos += delimiter.size();
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") return bad("a boundary is not followed by CRLF");
    pos += 2;
    const size_t head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string_view::npos) return bad("a part's headers never end");
    FormPart part;
    std::string_view head = body.substr(pos, head_end - pos);
    while (!head.empty()) {
      size_t eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string name = lower(trim(line.substr(0, colon)));
      std::string_view value = trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        part.name = header_param(value, "name");
        part.filename = header_param(value, "filename");
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    const size_t content_begin = head_end + 4;
    const size_t next = body.find("\r\n" + delimiter, content_begin);
    if (next == std::string_view::npos) return bad("no closing boundary");
    if (part.name.empty()) return bad("a part has no name");
    part.content = body.substr(content_begin, next - content_begin);
    parts.push_back(std::move(part));
    pos = next + 2 + delimiter.size();
  }
}

}  // namespace sy::gateway
