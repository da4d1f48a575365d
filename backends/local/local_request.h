#pragma once
// ChatRequest -> what the engine runs: the prompt rendered with the model's chat template
// (or the configured family) and tokenized, the sampling options, and how the output is to
// be read back (plain text, a JSON value, a tool call). Pure apart from the model it reads.

#include <cstdint>
#include <string>
#include <vector>

#include "switchyard/backends/chat.h"
#include "switchyard/backends/error.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/serving_engine.h"

namespace sy::backends::local {

enum class OutputMode : uint8_t {
  text,         // streamed as content
  json,         // response_format json_object / json_schema: constrained, streamed as content
  tool_forced,  // tool_choice required or a named function: constrained to a tool call
  tool_auto,    // tools offered: content, unless the whole output parses as a tool call
};

struct PreparedRequest {
  engine::SequenceRequest sequence;  // prompt, limits, sampling; no constraint yet
  OutputMode mode = OutputMode::text;
  // The JSON Schema to constrain the output to (json with an empty schema: any object).
  bool constrained = false;
  std::string schema;
  std::vector<Tool> tools;  // the tools a tool call may name
  bool logprobs = false;    // report each token's log-probability (and sequence.top_logprobs)
  std::string notice;       // the chat template fallback, to log once
};

struct PrepareOptions {
  std::string chat_template;  // the model config's fallback family ("" = none)
  uint64_t seed = 0;          // used when the request gives none
};

// invalid_request for what a local model cannot take (non-text parts, a conversation its
// template refuses, a tool_choice naming no offered tool, an empty prompt).
Result<PreparedRequest> prepare_request(const ChatRequest& request, const engine::Model& model,
                                        const PrepareOptions& options);

}  // namespace sy::backends::local
