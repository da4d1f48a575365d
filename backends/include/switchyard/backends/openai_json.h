#pragma once
// OpenAI's chat-completions JSON <-> the shared vocabulary, in both directions. Used by the
// gateway's OpenAI surface (parse what clients send, encode what they receive) and by every
// OpenAI-shaped translator (encode what vendors receive, parse what they answer): one codec,
// so the two sides cannot drift apart.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/chat.h"
#include "switchyard/backends/error.h"

namespace sy::backends::openai {

// Limits applied while parsing untrusted JSON.
struct ParseLimits {
  size_t max_depth = 64;  // nesting depth of any JSON value
};

// POST /v1/chat/completions body -> request. invalid_request (with `param` naming the field)
// on invalid JSON, wrong types, missing `model`/`messages`, unknown roles, bad `n`, ...
// Unknown top-level members land in request.extra; unknown message members in message.extra.
Result<ChatRequest> parse_chat_request(std::string_view body, const ParseLimits& limits = {});

// POST /v1/completions body (legacy; `prompt` a string or a one-element array) -> request with
// surface = completions and `prompt` set.
Result<ChatRequest> parse_completion_request(std::string_view body,
                                             const ParseLimits& limits = {});

// Request -> upstream body. model = request.model. Passthrough fields are re-emitted verbatim.
// With stream=true, sets "stream":true and "stream_options":{"include_usage":true}.
// For surface=completions the legacy body (prompt, ...) is produced.
std::string encode_chat_request(const ChatRequest& request, bool stream);

// Upstream non-streaming body -> response (chat.completion or, for legacy, text_completion).
Result<ChatResponse> parse_chat_response(std::string_view body);

// One `data:` payload of a chat.completion.chunk (or text_completion chunk) -> chunks, one per
// choice delta, plus a usage-only chunk when `usage` is present and non-null.
Result<std::vector<ChatChunk>> parse_chunk(std::string_view data);

// What a client receives. `id`, `model` and `created` are the gateway's (stable per response).
struct ResponseIdentity {
  std::string id;     // "chatcmpl-..." / "cmpl-..."
  std::string model;  // the model name reported to the client
  int64_t created = 0;
};
std::string encode_chat_response(const ChatResponse& response, const ResponseIdentity& who);
std::string encode_completion_response(const ChatResponse& response, const ResponseIdentity& who);
// One chat.completion.chunk JSON (no "data: " framing). A usage-only chunk has "choices":[].
// `extra_json`, if not empty, is a serialized JSON object added as member "x_switchyard".
std::string encode_chunk(const ChatChunk& chunk, const ResponseIdentity& who,
                         std::string_view extra_json = {});
std::string encode_completion_chunk(const ChatChunk& chunk, const ResponseIdentity& who,
                                    std::string_view extra_json = {});

// {"error":{"message":...,"type":...,"param":...,"code":...}}
std::string encode_error(std::string_view message, std::string_view type, std::string_view param,
                         std::string_view code);

// OpenAI's error body (and status) -> Error kind/message/code/param. Shared by every
// OpenAI-shaped translator's decode_error.
Error parse_error(int status, std::string_view body);

}  // namespace sy::backends::openai
