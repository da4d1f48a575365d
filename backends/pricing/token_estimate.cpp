#include "switchyard/backends/pricing.h"

namespace sy::backends {

namespace {

constexpr int64_t kFramingTokensPerMessage = 4;  // role and separators, as vendors document

}  // namespace

int64_t estimate_tokens(size_t utf8_bytes) { return static_cast<int64_t>((utf8_bytes + 3) / 4); }

int64_t estimate_prompt_tokens(const ChatRequest& request) {
  size_t bytes = request.prompt.size();
  for (const Message& message : request.messages) {
    for (const ContentPart& part : message.content) bytes += part.text.size();
    for (const ToolCall& call : message.tool_calls)
      bytes += call.name.size() + call.arguments.size();
  }
  for (const Tool& tool : request.tools) {
    bytes += tool.name.size() + tool.description.size() + tool.parameters_json.size();
  }
  return estimate_tokens(bytes) +
         kFramingTokensPerMessage * static_cast<int64_t>(request.messages.size());
}

std::optional<MicroDollars> estimate_max_cost(const ChatRequest& request, const PriceTerms& terms) {
  if (!request.max_tokens) return std::nullopt;
  const int64_t completions = std::max<int64_t>(1, request.n.value_or(1));
  return price_usage({.prompt_tokens = estimate_prompt_tokens(request),
                      .completion_tokens = *request.max_tokens * completions},
                     terms);
}

}  // namespace sy::backends
