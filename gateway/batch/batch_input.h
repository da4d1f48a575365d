#pragma once
// A Batch API input file: JSONL, one request per line, as OpenAI defines it:
//   {"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}
// custom_id is a non-empty string unique in the file, method POST, url one of the endpoints the
// batch API runs, body a JSON object. Validated once at upload; errors name the 1-based line.

#include <cstddef>
#include <string>
#include <string_view>
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

// Parses and validates every line (blank lines are skipped, as OpenAI does; a trailing newline
// is optional). Errors are invalid_request with "line N: ..." (the first bad line), or
// payload_too_large when there are more than `max_lines` requests.
backends::Result<std::vector<BatchInputLine>> parse_batch_input(std::string_view content,
                                                                size_t max_lines);

}  // namespace sy::gateway
