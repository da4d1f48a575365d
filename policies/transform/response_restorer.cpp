// ResponseRestorer: a masked call's chunks, native Anthropic events and final response back
// to the client's values. See response_restorer.h.

#include "switchyard/policies/transform/response_restorer.h"

#include <nlohmann/json.hpp>

#include "switchyard/backends/sse.h"
#include "transform/mask_text.h"

namespace sy::policies {

using backends::ChatChunk;
using backends::FinishReason;
using backends::ToolCallDelta;
using json = nlohmann::json;
using transform_detail::dump_json;

namespace {

// Restores every string (and member name) of a parsed Anthropic message, except inside
// thinking blocks, whose signatures cover the text the vendor produced. True if changed.
bool restore_tree(const MaskPlan& plan, json& value, size_t depth) {
  if (depth > 256) return false;
  bool changed = false;
  if (value.is_object()) {
    auto type = value.find("type");
    if (type != value.end() && type->is_string() &&
        (*type == "thinking" || *type == "redacted_thinking")) {
      return false;
    }
    json renamed = json::object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      changed = restore_tree(plan, it.value(), depth + 1) || changed;
      std::string key = plan.restore_text(it.key());
      changed = changed || key != it.key();
      renamed[std::move(key)] = std::move(it.value());
    }
    value = std::move(renamed);
  } else if (value.is_array()) {
    for (json& element : value) changed = restore_tree(plan, element, depth + 1) || changed;
  } else if (value.is_string()) {
    std::string& s = value.get_ref<std::string&>();
    std::string restored = plan.restore_text(s);
    if (restored != s) {
      s = std::move(restored);
      changed = true;
    }
  }
  return changed;
}

std::string restore_native_body(const MaskPlan& plan, const std::string& body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return plan.restore_json(body);
  if (!restore_tree(plan, parsed, 0)) return body;
  return dump_json(parsed);
}

int int_member(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int>() : -1;
}

std::string string_member(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

StreamRestorer& ResponseRestorer::restorer(std::optional<StreamRestorer>& slot,
                                           StreamRestorer::Mode mode) {
  if (!slot) slot.emplace(plan_, mode);
  return *slot;
}

bool ResponseRestorer::restore(ChatChunk& chunk) {
  if (!plan_ || plan_->empty()) return true;
  const bool had_output = chunk.has_content() || !chunk.native.empty();
  const bool ending = chunk.finish_reason != FinishReason::none;
  Choice& c = choices_[chunk.choice_index];

  if (!chunk.content.empty()) {
    chunk.content = restorer(c.content, StreamRestorer::Mode::text).feed(chunk.content);
  }
  if (!chunk.refusal.empty()) {
    chunk.refusal = restorer(c.refusal, StreamRestorer::Mode::text).feed(chunk.refusal);
  }
  // Text ends where tool calls begin (encoders write a chunk's text before its calls).
  if (!chunk.tool_calls.empty() || ending) {
    if (c.content) chunk.content += c.content->flush();
    if (c.refusal) chunk.refusal += c.refusal->flush();
  }
  std::vector<ToolCallDelta> calls;
  for (ToolCallDelta& delta : chunk.tool_calls) {
    if (c.open_tool >= 0 && delta.index != c.open_tool) {
      // The previous call is complete: what it held goes out before the next call starts.
      auto previous = c.tools.find(c.open_tool);
      if (previous != c.tools.end()) {
        std::string rest = previous->second.flush();
        if (!rest.empty()) calls.push_back(ToolCallDelta{.index = c.open_tool, .arguments = rest});
      }
    }
    c.open_tool = delta.index;
    StreamRestorer& arguments =
        c.tools.try_emplace(delta.index, plan_, StreamRestorer::Mode::json).first->second;
    delta.arguments = arguments.feed(delta.arguments);
    if (!delta.name.empty()) delta.name = plan_->restore_text(delta.name);
    if (!delta.id.empty() || !delta.name.empty() || !delta.arguments.empty()) {
      calls.push_back(std::move(delta));
    }
  }
  if (ending) {
    for (auto& [index, arguments] : c.tools) {
      std::string rest = arguments.flush();
      if (!rest.empty()) calls.push_back(ToolCallDelta{.index = index, .arguments = rest});
    }
  }
  chunk.tool_calls = std::move(calls);
  if (!chunk.native.empty()) chunk.native = restore_native(chunk.native);

  if (!had_output) return true;
  return chunk.has_content() || !chunk.native.empty() || chunk.role || ending || chunk.usage ||
         !chunk.logprobs.empty();
}

std::vector<ChatChunk> ResponseRestorer::flush() {
  std::vector<ChatChunk> out;
  for (auto& [index, c] : choices_) {
    ChatChunk chunk{.choice_index = index};
    if (c.content) chunk.content = c.content->flush();
    if (c.refusal) chunk.refusal = c.refusal->flush();
    for (auto& [tool, arguments] : c.tools) {
      std::string rest = arguments.flush();
      if (!rest.empty()) chunk.tool_calls.push_back(ToolCallDelta{.index = tool, .arguments = rest});
    }
    if (chunk.has_content()) out.push_back(std::move(chunk));
  }
  return out;
}

void ResponseRestorer::restore(backends::ChatResponse& response) const {
  if (!plan_ || plan_->empty()) return;
  for (backends::Choice& choice : response.choices) {
    backends::Message& message = choice.message;
    for (backends::ContentPart& part : message.content) {
      if (part.kind == backends::ContentPart::Kind::text) part.text = plan_->restore_text(part.text);
    }
    message.refusal = plan_->restore_text(message.refusal);
    for (backends::ToolCall& call : message.tool_calls) {
      call.name = plan_->restore_text(call.name);
      call.arguments = plan_->restore_json(call.arguments);
    }
  }
  if (!response.native_body.empty()) {
    response.native_body = restore_native_body(*plan_, response.native_body);
  }
}

// Native Anthropic events (whole ones): text and tool-input deltas restored per content block.
// Events with nothing to change are re-framed as they came (same event name and data).
std::string ResponseRestorer::restore_native(std::string_view events) {
  backends::SseParser parser;
  std::vector<backends::SseEvent> parsed;
  parser.feed(events, parsed);
  std::string out;
  for (const backends::SseEvent& event : parsed) {
    json data = json::parse(event.data, nullptr, /*allow_exceptions=*/false);
    const std::string type = data.is_object() ? string_member(data, "type") : std::string();
    const int index = data.is_object() ? int_member(data, "index") : -1;
    if (type == "content_block_start") {
      NativeBlock& block = native_blocks_[index];
      block.restorer.reset();
      auto content = data.find("content_block");
      const std::string block_type =
          content != data.end() && content->is_object() ? string_member(*content, "type") : "";
      block.delta_type = block_type == "text"       ? "text_delta"
                         : block_type == "tool_use" ? "input_json_delta"
                                                    : "";
      if (block_type == "text" && !string_member(*content, "text").empty()) {
        (*content)["text"] = plan_->restore_text(string_member(*content, "text"));
        out += backends::format_sse(dump_json(data), event.event);
        continue;
      }
    } else if (type == "content_block_delta") {
      auto delta = data.find("delta");
      const std::string delta_type =
          delta != data.end() && delta->is_object() ? string_member(*delta, "type") : "";
      const char* field = delta_type == "text_delta"         ? "text"
                          : delta_type == "input_json_delta" ? "partial_json"
                                                             : nullptr;
      if (field != nullptr && delta->contains(field) && (*delta)[field].is_string()) {
        NativeBlock& block = native_blocks_[index];
        if (block.delta_type.empty()) block.delta_type = delta_type;
        StreamRestorer& r = restorer(block.restorer, delta_type == "text_delta"
                                                         ? StreamRestorer::Mode::text
                                                         : StreamRestorer::Mode::json);
        std::string restored = r.feed((*delta)[field].get<std::string>());
        if (restored.empty()) continue;  // all of it held back: the next delta carries it
        (*delta)[field] = std::move(restored);
        out += backends::format_sse(dump_json(data), event.event);
        continue;
      }
    } else if (type == "content_block_stop") {
      auto block = native_blocks_.find(index);
      if (block != native_blocks_.end() && block->second.restorer) {
        std::string rest = block->second.restorer->flush();
        if (!rest.empty()) {
          const bool text = block->second.delta_type == "text_delta";
          json delta{{"type", "content_block_delta"},
                     {"index", index},
                     {"delta",
                      {{"type", block->second.delta_type}, {text ? "text" : "partial_json", rest}}}};
          out += backends::format_sse(dump_json(delta), "content_block_delta");
        }
      }
    }
    out += backends::format_sse(event.data, event.event);
  }
  return out;
}

}  // namespace sy::policies
