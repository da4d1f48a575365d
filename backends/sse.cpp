#include "switchyard/backends/sse.h"

namespace sy::backends {

bool SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (!started_ && !bytes.empty()) {
    // A UTF-8 BOM may open the stream; it is not part of the first field.
    if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
    started_ = !bytes.empty();
  }
  for (char c : bytes) {
    if (c == '\n' && saw_cr_) {  // the LF of a CRLF pair
      saw_cr_ = false;
      continue;
    }
    saw_cr_ = (c == '\r');
    if (c == '\r' || c == '\n') {
      process_line(line_, out);
      line_.clear();
      continue;
    }
    line_.push_back(c);
    if (line_.size() + event_.data.size() > max_event_bytes_) return false;
  }
  return true;
}

void SseParser::process_line(std::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {  // dispatch
    if (has_data_) out.push_back(std::move(event_));
    event_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment (keep-alive)
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) event_.data.push_back('\n');
    event_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.event.assign(value);
  } else if (field == "id") {
    event_.id.assign(value);
  }
}

std::string format_sse(std::string_view data, std::string_view event) {
  std::string out;
  out.reserve(data.size() + event.size() + 16);
  if (!event.empty()) {
    out.append("event: ").append(event).append("\n");
  }
  size_t start = 0;
  while (true) {
    size_t nl = data.find('\n', start);
    out.append("data: ").append(data.substr(start, nl - start)).append("\n");
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out.append("\n");
  return out;
}

}  // namespace sy::backends
