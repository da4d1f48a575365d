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

backends::Status bad(std::string message) {
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

namespace {
// A part's header block beyond this is not a form a client sends: refused, never buffered.
constexpr size_t kMaxPartHeaderBytes = 16 * 1024;
}  // namespace

MultipartReader::MultipartReader(std::string_view boundary, Events events)
    : delimiter_("--" + std::string(boundary)),
      next_delimiter_("\r\n--" + std::string(boundary)),
      events_(std::move(events)) {}

backends::Status MultipartReader::fail(std::string message) {
  return stop(bad(std::move(message)));
}

backends::Status MultipartReader::stop(backends::Status status) {
  if (!status) {
    failed_ = status.error();
    pending_.clear();
  }
  return status;
}

backends::Status MultipartReader::feed(std::string_view bytes) {
  if (failed_) return std::unexpected(*failed_);
  if (state_ == State::done) return {};
  pending_.append(bytes);
  bool progressed = true;
  while (progressed && state_ != State::done) {
    progressed = false;
    if (auto stepped = step(progressed); !stepped) return stop(stepped);
  }
  if (state_ == State::done) pending_.clear();
  return {};
}

// One state's work on pending_; `progressed` says whether another step may do more.
backends::Status MultipartReader::step(bool& progressed) {
  switch (state_) {
    case State::preamble: {
      const size_t at = pending_.find(delimiter_);
      if (at == std::string::npos) {
        // Keep only what may be the start of a delimiter.
        if (pending_.size() >= delimiter_.size()) {
          pending_.erase(0, pending_.size() - (delimiter_.size() - 1));
        }
        return {};
      }
      pending_.erase(0, at + delimiter_.size());
      state_ = State::after_delimiter;
      progressed = true;
      return {};
    }
    case State::after_delimiter: {
      if (pending_.size() < 2) return {};
      if (pending_.starts_with("--")) {
        state_ = State::done;
        return {};
      }
      if (!pending_.starts_with("\r\n")) return fail("a boundary is not followed by CRLF");
      pending_.erase(0, 2);
      state_ = State::headers;
      progressed = true;
      return {};
    }
    case State::headers: {
      const size_t head_end = pending_.find("\r\n\r\n");
      if (head_end == std::string::npos) {
        if (pending_.size() > kMaxPartHeaderBytes) return fail("a part's headers are too long");
        return {};
      }
      FormPart part;
      std::string_view head = std::string_view(pending_).substr(0, head_end);
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
      if (part.name.empty()) return fail("a part has no name");
      pending_.erase(0, head_end + 4);
      state_ = State::content;
      progressed = true;
      return events_.begin ? events_.begin(part) : backends::Status{};
    }
    case State::content: {
      const size_t at = pending_.find(next_delimiter_);
      if (at == std::string::npos) {
        // Pass on all but what may be the start of the next delimiter.
        const size_t keep = std::min(pending_.size(), next_delimiter_.size() - 1);
        const size_t ready = pending_.size() - keep;
        if (ready == 0) return {};
        backends::Status sent = events_.data
                                    ? events_.data(std::string_view(pending_).substr(0, ready))
                                    : backends::Status{};
        pending_.erase(0, ready);
        return sent;
      }
      if (at > 0 && events_.data) {
        if (auto sent = events_.data(std::string_view(pending_).substr(0, at)); !sent) {
          return sent;
        }
      }
      pending_.erase(0, at + next_delimiter_.size());
      state_ = State::after_delimiter;
      progressed = true;
      return events_.end ? events_.end() : backends::Status{};
    }
    case State::done:
      return {};
  }
  return {};
}

backends::Status MultipartReader::finish() {
  if (failed_) return std::unexpected(*failed_);
  if (state_ == State::done) return {};
  switch (state_) {
    case State::preamble:
      return fail("no boundary found");
    case State::headers:
      return fail("a part's headers never end");
    default:
      return fail("no closing boundary");
  }
}

backends::Result<std::vector<FormPart>> parse_multipart(std::string_view body,
                                                        std::string_view boundary) {
  std::vector<FormPart> parts;
  MultipartReader reader(boundary, {.begin =
                                        [&](const FormPart& part) {
                                          parts.push_back(part);
                                          return backends::Status{};
                                        },
                                    .data =
                                        [&](std::string_view bytes) {
                                          parts.back().content.append(bytes);
                                          return backends::Status{};
                                        },
                                    .end = nullptr});
  if (auto fed = reader.feed(body); !fed) return std::unexpected(fed.error());
  if (auto done = reader.finish(); !done) return std::unexpected(done.error());
  return parts;
}

}  // namespace sy::gateway
