#pragma once
// The codec's parsing fast paths: the common shapes of a client's chat request, an upstream
// chat.completion and a stream chunk, read with JsonReader straight into the vocabulary (no
// DOM). Each returns nullopt for anything it does not take — invalid JSON, a wrong type, a
// value out of range, a member whose handling needs the DOM (passthrough members are kept as
// re-serialized JSON, tools and schemas likewise), a duplicate key — and the public parser
// then parses the same text with the DOM, which produces the result or the error. Whatever a
// fast path returns equals what the DOM path returns for the same text (tests hold them to it).

#include <optional>
#include <string_view>
#include <vector>

#include "switchyard/backends/chat.h"
#include "switchyard/backends/error.h"

namespace sy::backends::openai::detail {

std::optional<ChatRequest> parse_chat_request_fast(std::string_view body, size_t max_depth);
std::optional<ChatResponse> parse_chat_response_fast(std::string_view body, size_t max_depth);
std::optional<std::vector<ChatChunk>> parse_chunk_fast(std::string_view data, size_t max_depth);

// The DOM parsers alone (what the public parsers fall back to), for the tests that compare.
Result<ChatRequest> parse_chat_request_dom(std::string_view body, size_t max_depth);
Result<ChatResponse> parse_chat_response_dom(std::string_view body);
Result<std::vector<ChatChunk>> parse_chunk_dom(std::string_view data);

}  // namespace sy::backends::openai::detail
