#pragma once
// Test-only builders for the shared vocabulary, so request tests read like conversations.

#include <string>
#include <utility>

#include "switchyard/backends/chat.h"

namespace sy::backends::testing {

inline Message text_message(Role role, std::string text) {
  Message message;
  message.role = role;
  message.content.push_back(ContentPart{.text = std::move(text)});
  return message;
}

inline Message tool_result(std::string call_id, std::string text) {
  Message message = text_message(Role::tool, std::move(text));
  message.tool_call_id = std::move(call_id);
  return message;
}

inline Message assistant_calls(std::string text, std::vector<ToolCall> calls) {
  Message message;
  message.role = Role::assistant;
  if (text.empty()) {
    message.content_is_null = true;
  } else {
    message.content.push_back(ContentPart{.text = std::move(text)});
  }
  message.tool_calls = std::move(calls);
  return message;
}

inline ContentPart image_part(std::string url) {
  return ContentPart{.kind = ContentPart::Kind::image_url, .url = std::move(url)};
}

inline Tool weather_tool() {
  return Tool{.name = "get_weather",
              .description = "Current weather for a city",
              .parameters_json = R"({"type":"object","properties":{"location":{"type":"string"}},)"
                                 R"("required":["location"]})"};
}

}  // namespace sy::backends::testing
