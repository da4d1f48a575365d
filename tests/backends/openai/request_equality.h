#pragma once
// Test-only: field-by-field comparison of two ChatRequests (the vocabulary has no operator==
// because production code never needs one).

#include <gtest/gtest.h>

#include "switchyard/backends/chat.h"

namespace sy::backends::testing {

inline void expect_same_fields(const JsonFields& a, const JsonFields& b, const std::string& where) {
  ASSERT_EQ(a.size(), b.size()) << where;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key, b[i].key) << where;
    EXPECT_EQ(a[i].value_json, b[i].value_json) << where << "." << a[i].key;
  }
}

inline void expect_same_message(const Message& a, const Message& b, const std::string& where) {
  EXPECT_EQ(a.role, b.role) << where;
  EXPECT_EQ(a.content_is_text, b.content_is_text) << where;
  EXPECT_EQ(a.content_is_null, b.content_is_null) << where;
  EXPECT_EQ(a.name, b.name) << where;
  EXPECT_EQ(a.tool_call_id, b.tool_call_id) << where;
  EXPECT_EQ(a.refusal, b.refusal) << where;
  ASSERT_EQ(a.content.size(), b.content.size()) << where;
  for (size_t i = 0; i < a.content.size(); ++i) {
    EXPECT_EQ(a.content[i].kind, b.content[i].kind) << where << " part " << i;
    EXPECT_EQ(a.content[i].text, b.content[i].text) << where << " part " << i;
    EXPECT_EQ(a.content[i].url, b.content[i].url) << where << " part " << i;
    EXPECT_EQ(a.content[i].detail, b.content[i].detail) << where << " part " << i;
    EXPECT_EQ(a.content[i].raw_json, b.content[i].raw_json) << where << " part " << i;
  }
  ASSERT_EQ(a.tool_calls.size(), b.tool_calls.size()) << where;
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    EXPECT_EQ(a.tool_calls[i].id, b.tool_calls[i].id) << where;
    EXPECT_EQ(a.tool_calls[i].name, b.tool_calls[i].name) << where;
    EXPECT_EQ(a.tool_calls[i].arguments, b.tool_calls[i].arguments) << where;
  }
  expect_same_fields(a.extra, b.extra, where + " extra");
}

inline void expect_same_request(const ChatRequest& a, const ChatRequest& b,
                                const std::string& where) {
  EXPECT_EQ(a.surface, b.surface) << where;
  EXPECT_EQ(a.model, b.model) << where;
  EXPECT_EQ(a.prompt, b.prompt) << where;
  ASSERT_EQ(a.messages.size(), b.messages.size()) << where;
  for (size_t i = 0; i < a.messages.size(); ++i) {
    expect_same_message(a.messages[i], b.messages[i],
                        where + " messages[" + std::to_string(i) + "]");
  }
  ASSERT_EQ(a.tools.size(), b.tools.size()) << where;
  for (size_t i = 0; i < a.tools.size(); ++i) {
    EXPECT_EQ(a.tools[i].name, b.tools[i].name) << where;
    EXPECT_EQ(a.tools[i].description, b.tools[i].description) << where;
    EXPECT_EQ(a.tools[i].parameters_json, b.tools[i].parameters_json) << where;
    EXPECT_EQ(a.tools[i].strict, b.tools[i].strict) << where;
  }
  EXPECT_EQ(a.tool_choice.mode, b.tool_choice.mode) << where;
  EXPECT_EQ(a.tool_choice.function_name, b.tool_choice.function_name) << where;
  EXPECT_EQ(a.parallel_tool_calls, b.parallel_tool_calls) << where;
  EXPECT_EQ(a.response_format.type, b.response_format.type) << where;
  EXPECT_EQ(a.response_format.schema_name, b.response_format.schema_name) << where;
  EXPECT_EQ(a.response_format.schema_json, b.response_format.schema_json) << where;
  EXPECT_EQ(a.response_format.strict, b.response_format.strict) << where;
  EXPECT_EQ(a.response_format.description, b.response_format.description) << where;
  EXPECT_EQ(a.temperature, b.temperature) << where;
  EXPECT_EQ(a.top_p, b.top_p) << where;
  EXPECT_EQ(a.presence_penalty, b.presence_penalty) << where;
  EXPECT_EQ(a.frequency_penalty, b.frequency_penalty) << where;
  EXPECT_EQ(a.max_tokens, b.max_tokens) << where;
  EXPECT_EQ(a.max_tokens_is_completion, b.max_tokens_is_completion) << where;
  EXPECT_EQ(a.stop, b.stop) << where;
  EXPECT_EQ(a.seed, b.seed) << where;
  EXPECT_EQ(a.n, b.n) << where;
  EXPECT_EQ(a.logprobs, b.logprobs) << where;
  EXPECT_EQ(a.top_logprobs, b.top_logprobs) << where;
  EXPECT_EQ(a.user, b.user) << where;
  EXPECT_EQ(a.metadata, b.metadata) << where;
  EXPECT_EQ(a.stream, b.stream) << where;
  EXPECT_EQ(a.include_usage, b.include_usage) << where;
  expect_same_fields(a.extra, b.extra, where + " extra");
}

}  // namespace sy::backends::testing
