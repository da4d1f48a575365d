#pragma once
// Anthropic's Messages request JSON (POST /v1/messages, /v1/messages/count_tokens) -> the
// shared ChatRequest, with the client's body kept as a NativeRequest so that an Anthropic
// backend receives it byte for byte (only `model` is replaced; see chat.h).
//
// Mapping into the vocabulary:
// - `system` (a string or text blocks) -> one leading system message;
// - text blocks -> text parts; image blocks (base64 / url source) -> image_url parts (a base64
//   source becomes a data: URL); document blocks with a plain-text source -> text parts (title
//   first); every other block (PDF / file documents, thinking, redacted_thinking, server-tool
//   blocks, types added later) -> a ContentPart of kind other holding the block verbatim, which
//   only an Anthropic backend can send (fallback.h adapt_for drops thinking blocks elsewhere);
// - assistant tool_use blocks -> tool_calls (input serialized as the arguments JSON); user
//   tool_result blocks -> tool messages, in order, before the rest of that user turn (an
//   is_error result is prefixed "Error: " so that other vendors' models see it failed);
// - stop_sequences -> stop, metadata.user_id -> user (other string metadata -> metadata),
//   tool_choice auto/any/tool/none (+ disable_parallel_tool_use) -> tool_choice and
//   parallel_tool_calls; client tools -> tools (server tools, which run at Anthropic, are not
//   offered to other vendors);
// - every other top-level member (thinking, top_k, service_tier, ...) -> extra, validated
//   only as JSON.
// Errors are invalid_request with Anthropic-style messages naming the field
// ("messages.0.content.1.source.data: Field required").

#include <string_view>

#include "switchyard/backends/chat.h"
#include "switchyard/backends/error.h"
#include "switchyard/backends/http_types.h"

namespace sy::gateway {

struct MessagesParseLimits {
  size_t max_depth = 64;  // nesting depth of any JSON value
};

// `headers` (lower-case names) supply anthropic-version and anthropic-beta, validated and kept
// in the NativeRequest. `count_tokens`: the count_tokens body (no max_tokens, no stream).
backends::Result<backends::ChatRequest> parse_messages_request(
    std::string_view body, const backends::Headers& headers, bool count_tokens = false,
    const MessagesParseLimits& limits = {});

}  // namespace sy::gateway
