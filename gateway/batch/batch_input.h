#pragma once
// A Batch API input file: JSONL, one request per line, as OpenAI defines it:
//   {"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}
// custom_id is a non-empty string unique in the file, method POST, url one of the endpoints the
// batch API runs, body a JSON object. Validated once at upload; errors name the 1-based line.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "switchyard/backends/error.h"

namespace sy::gateway {

struct BatchInputLine {
  std::string custom_id;
  std::string url;   // "/v1/chat/completions" or "/v1/completions"
  std::string body;  // the request body, a JSON object as text
};

// The endpoints a batch may run.
bool is_batch_endpoint(std::string_view url);

// Validates an input file as its bytes arrive, in pieces of any size (an upload streamed to
// disk). Blank lines are skipped, as OpenAI does; a trailing newline is optional. Errors are
// invalid_request "line N: ..." (the first bad line, 1-based), or payload_too_large past
// `max_lines` requests; once failed, every later call returns the same error.
// Memory: the custom_ids seen so far and one partial line (at most `max_line_bytes`).
// Not thread-safe.
class BatchInputReader {
 public:
  explicit BatchInputReader(size_t max_lines,
                            size_t max_line_bytes = std::numeric_limits<size_t>::max(),
                            bool keep_lines = false);

  backends::Status feed(std::string_view bytes);
  // The end of the file: checks a last line without a newline; an error when it had no request.
  backends::Status finish();

  size_t requests() const { return requests_; }
  // The parsed lines, when constructed with keep_lines (else empty).
  std::vector<BatchInputLine> take_lines() { return std::move(lines_); }

 private:
  backends::Status check_line(std::string_view text);

  const size_t max_lines_;
  const size_t max_line_bytes_;
  const bool keep_lines_;
  std::string partial_;  // bytes of the current line not yet ended by '\n'
  size_t number_ = 0;    // lines seen, blank ones included
  size_t requests_ = 0;
  std::unordered_set<std::string> seen_;
  std::vector<BatchInputLine> lines_;
  std::optional<backends::Error> failed_;
};

// The whole file at once (BatchInputReader with keep_lines).
backends::Result<std::vector<BatchInputLine>> parse_batch_input(std::string_view content,
                                                                size_t max_lines);

}  // namespace sy::gateway
