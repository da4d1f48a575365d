#include "switchyard/backends/chat.h"

#include <algorithm>

namespace sy::backends {

std::string Message::text() const {
  std::string out;
  for (const auto& part : content) {
    if (part.kind == ContentPart::Kind::text) out += part.text;
  }
  return out;
}

std::string_view to_string(FinishReason reason) {
  switch (reason) {
    case FinishReason::none: return "";
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::tool_calls: return "tool_calls";
    case FinishReason::content_filter: return "content_filter";
    case FinishReason::error: return "error";
  }
  return "";
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::system: return "system";
    case Role::developer: return "developer";
    case Role::user: return "user";
    case Role::assistant: return "assistant";
    case Role::tool: return "tool";
  }
  return "user";
}

Choice& ChatAccumulator::choice(int index) {
  auto it = std::find_if(response_.choices.begin(), response_.choices.end(),
                         [&](const Choice& c) { return c.index == index; });
  if (it != response_.choices.end()) return *it;
  Choice fresh;
  fresh.index = index;
  fresh.message.role = Role::assistant;
  fresh.finish_reason = FinishReason::none;
  response_.choices.push_back(std::move(fresh));
  return response_.choices.back();
}

void ChatAccumulator::add(const ChatChunk& chunk) {
  if (!chunk.model.empty()) response_.model = chunk.model;
  if (chunk.usage) {
    response_.usage = *chunk.usage;
    saw_usage_ = true;
  }
  bool has_delta = chunk.role || chunk.has_content() || chunk.finish_reason != FinishReason::none ||
                   !chunk.logprobs.empty();
  if (!has_delta) return;
  Choice& c = choice(chunk.choice_index);
  if (!chunk.content.empty()) {
    if (c.message.content.empty()) c.message.content.push_back(ContentPart{});
    c.message.content.back().text += chunk.content;
  }
  c.message.refusal += chunk.refusal;
  c.logprobs.insert(c.logprobs.end(), chunk.logprobs.begin(), chunk.logprobs.end());
  for (const auto& d : chunk.tool_calls) {
    if (static_cast<size_t>(d.index) >= c.message.tool_calls.size()) {
      c.message.tool_calls.resize(d.index + 1);
    }
    ToolCall& call = c.message.tool_calls[d.index];
    if (!d.id.empty()) call.id = d.id;
    if (!d.name.empty()) call.name = d.name;
    call.arguments += d.arguments;
  }
  if (chunk.finish_reason != FinishReason::none) c.finish_reason = chunk.finish_reason;
}

ChatResponse ChatAccumulator::finish() && {
  std::sort(response_.choices.begin(), response_.choices.end(),
            [](const Choice& a, const Choice& b) { return a.index < b.index; });
  for (auto& c : response_.choices) {
    if (c.message.content.empty() && !c.message.tool_calls.empty()) c.message.content_is_null = true;
    if (c.finish_reason == FinishReason::none) c.finish_reason = FinishReason::stop;
  }
  return std::move(response_);
}

}  // namespace sy::backends
