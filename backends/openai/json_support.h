#pragma once
// Private helpers of the OpenAI codec: a depth pre-scan, exception-free JSON parsing and
// typed accessors. nlohmann-json stays inside backends/openai, backends/azure and
// backends/openai_compat; nothing here is a public contract.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "switchyard/backends/chat.h"
#include "switchyard/backends/error.h"
#include "switchyard/backends/openai_json.h"

namespace sy::backends::openai::detail {

// Ordered so that passthrough members, metadata and encoded bodies keep the client's order.
using Json = nlohmann::ordered_json;

// Deepest nesting of arrays/objects in `text`, scanning brackets outside strings; stops
// counting once `limit` is passed. Runs before the real parser so that a hostile
// 100k-deep document never reaches a recursive descent.
size_t json_depth(std::string_view text, size_t limit);

// Parses without throwing; nullopt on invalid JSON.
std::optional<Json> parse_json(std::string_view text);

// Serializes without throwing (invalid UTF-8 is replaced, never an exception).
std::string dump(const Json& value);

// Keeps at most `max_bytes` of untrusted text, cut at a UTF-8 boundary.
std::string truncate_utf8(std::string_view text, size_t max_bytes);

std::unexpected<Error> invalid(std::string param, std::string message);
std::unexpected<Error> upstream(std::string message);

// The JSON type name used in error messages ("a string", "an object", ...).
std::string_view type_name(const Json& value);

FinishReason parse_finish_reason(const Json& value);
// The same for a string value.
FinishReason parse_finish_reason(std::string_view value);
// nullptr for FinishReason::none.
Json finish_reason_json(FinishReason reason);

Usage parse_usage(const Json& usage);
Json usage_json(const Usage& usage);

// The chat body for every OpenAI-shaped vendor. Azure names the model in its URL and wants
// no `model` member, hence `include_model`.
std::string encode_request_body(const ChatRequest& request, bool stream, bool include_model);

// The DOM encoders. The public encoders write common cases directly (no DOM) and fall back to
// these for the rest; tests hold the two to the same bytes.
std::string encode_request_body_dom(const ChatRequest& request, bool stream, bool include_model);
std::string encode_chat_response_dom(const ChatResponse& response,
                                     const ResponseIdentity& who);
std::string encode_chunk_dom(const ChatChunk& chunk, const ResponseIdentity& who,
                             std::string_view extra_json);

// Error JSON object (the value of "error", or the whole body) + HTTP status -> Error.
// status 0 means the error arrived inside a 2xx stream.
Error error_from_json(int status, const Json& body);

}  // namespace sy::backends::openai::detail
