#pragma once
// How a local model calls tools (see README.md beside this file). It answers with one JSON
// object and nothing else:
//   {"name": "<function name>", "arguments": {<the function's parameters>}}
// With tool_choice `required` or a named function the output is constrained to that shape by
// tool_call_schema(); with `auto` an output that parses as one (parse_tool_call) becomes a
// tool call. Pure functions of their inputs.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/chat.h"

namespace sy::backends::local {

// The JSON Schema every call to one of `tools` satisfies (anyOf over the tools), or only calls
// to the tool named `only` when it is not empty. A tool's `$defs` move to the root under
// "t<index>_<name>" with its `$ref`s rewritten, so references still resolve.
std::string tool_call_schema(const std::vector<Tool>& tools, std::string_view only = {});

// The system-prompt text that lists the tools and says how to call one.
std::string tool_instructions(const std::vector<Tool>& tools, std::string_view only = {});

// `text` (surrounding whitespace allowed) as a call to one of `tools`; nullopt when it is not
// exactly one such object. The call's id is left empty; `arguments` is compact JSON text.
std::optional<ToolCall> parse_tool_call(std::string_view text, const std::vector<Tool>& tools);

// An earlier call of the conversation, written as the model would have written it.
std::string render_tool_call(const ToolCall& call);

}  // namespace sy::backends::local
