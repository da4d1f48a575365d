#pragma once
// Incremental parser for text/event-stream (the WHATWG EventSource rules): bytes in any
// split, events out. Shared by every streaming translator and by the test fakes.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sy::backends {

struct SseEvent {
  std::string event;  // "" when the stream gave no `event:` field
  std::string data;   // `data:` lines joined by '\n'
  std::string id;
};

class SseParser {
 public:
  // `max_event_bytes` bounds one event's size so a hostile upstream cannot exhaust memory.
  explicit SseParser(size_t max_event_bytes = 16 * 1024 * 1024) : max_event_bytes_(max_event_bytes) {}

  // Appends every event completed by `bytes`. Returns false (and stops) if an event or line
  // exceeds the bound.
  bool feed(std::string_view bytes, std::vector<SseEvent>& out);

  // True if a partial event or line is pending (a stream that ends here was cut).
  bool has_partial() const { return !line_.empty() || has_data_ || !event_.event.empty(); }

 private:
  void process_line(std::string_view line, std::vector<SseEvent>& out);

  size_t max_event_bytes_;
  std::string line_;
  SseEvent event_;
  bool has_data_ = false;
  bool saw_cr_ = false;
  bool started_ = false;  // BOM handling
};

// Formats one SSE event ("event: X\n" if named, "data: ...\n" per line, blank line).
std::string format_sse(std::string_view data, std::string_view event = {});

}  // namespace sy::backends
