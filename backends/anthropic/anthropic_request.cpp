// ChatRequest -> Anthropic Messages request body.
//
// Mapping notes (Anthropic's documented constraints drive the shape):
// - system and developer messages, wherever they appear, are hoisted into the top-level
//   `system` string (joined by blank lines): the Messages API has no system role in turns.
// - turns alternate strictly, so consecutive messages of the same role are merged, and tool
//   results (role tool) become `tool_result` blocks of a user turn.
// - `max_tokens` is required by Anthropic; kDefaultMaxTokens when the client gave none.
// - presence/frequency penalties, seed and logprobs have no Anthropic equivalent and are
//   dropped; n > 1 is refused (capabilities().multiple_choices is false).

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/data_url.h"
#include "common/vendor_json.h"
#include "anthropic_translator.h"

namespace sy::backends::anthropic {

namespace {

using nlohmann::json;

std::unexpected<Error> invalid(std::string message, std::string param) {
  return std::unexpected(
      Error{.kind = ErrorKind::invalid_request, .message = std::move(message), .param = param});
}

// Anthropic has no JSON mode: the documented way to get JSON only is to instruct the model
// (and, for a schema, to show it the schema). This text is appended to `system`.
std::string json_instruction(const ResponseFormat& format) {
  if (format.type == ResponseFormat::Type::json_object) {
    return "Respond with a single valid JSON object only: no prose before or after it and no "
           "Markdown code fences.";
  }
  std::string text =
      "Respond with a single valid JSON value only, with no prose before or after it and no "
      "Markdown code fences. It must conform to this JSON Schema";
  if (!format.schema_name.empty()) text += " (named \"" + format.schema_name + "\")";
  text += ":\n" + format.schema_json;
  if (!format.description.empty()) text += "\nSchema description: " + format.description;
  return text;
}

Result<json> encode_image(const ContentPart& part, const std::string& param) {
  if (auto data = detail::parse_base64_data_url(part.url)) {
    return json{
        {"type", "image"},
        {"source", {{"type", "base64"}, {"media_type", data->media_type}, {"data", data->data}}}};
  }
  if (detail::is_http_url(part.url)) {
    return json{{"type", "image"}, {"source", {{"type", "url"}, {"url", part.url}}}};
  }
  return invalid("image_url must be an http(s) URL or a base64 data: URL", param);
}

// A message's content parts -> Anthropic content blocks (empty text is skipped: Anthropic
// rejects empty text blocks). Parts of kind other came from the gateway's own Anthropic surface
// when `anthropic_parts` (ApiSurface::messages): they are Anthropic blocks already (thinking,
// documents, ...) and go back verbatim.
Status append_content(const Message& message, const std::string& param, json& blocks,
                      bool anthropic_parts) {
  for (size_t i = 0; i < message.content.size(); ++i) {
    const ContentPart& part = message.content[i];
    std::string part_param = param + ".content[" + std::to_string(i) + "]";
    switch (part.kind) {
      case ContentPart::Kind::text:
        if (!part.text.empty()) blocks.push_back(json{{"type", "text"}, {"text", part.text}});
        break;
      case ContentPart::Kind::image_url: {
        auto image = encode_image(part, part_param);
        if (!image) return std::unexpected(image.error());
        blocks.push_back(std::move(*image));
        break;
      }
      case ContentPart::Kind::other: {
        auto raw = anthropic_parts ? detail::parse_json(part.raw_json) : std::nullopt;
        if (!raw || !raw->is_object()) {
          return invalid("this content part type is not supported by the anthropic backend",
                         part_param);
        }
        blocks.push_back(std::move(*raw));
        break;
      }
    }
  }
  return {};
}

Result<json> encode_tool_use(const ToolCall& call, const std::string& param) {
  json input = json::object();
  if (!call.arguments.empty()) {
    auto parsed = detail::parse_json(call.arguments);
    if (!parsed || !parsed->is_object()) {
      return invalid("tool call arguments must be a JSON object", param + ".function.arguments");
    }
    input = std::move(*parsed);
  }
  return json{{"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", input}};
}

// Text output is sent as a string; output with images as content blocks; empty output as a
// result without content (Anthropic's `content` is optional).
Result<json> encode_tool_result(const Message& message, const std::string& param,
                                bool anthropic_parts) {
  json block{{"type", "tool_result"}, {"tool_use_id", message.tool_call_id}};
  bool only_text = std::all_of(message.content.begin(), message.content.end(),
                               [](const auto& p) { return p.kind == ContentPart::Kind::text; });
  if (only_text) {
    if (!message.text().empty()) block["content"] = message.text();
    return block;
  }
  json inner = json::array();
  if (auto ok = append_content(message, param, inner, anthropic_parts); !ok) {
    return std::unexpected(ok.error());
  }
  block["content"] = std::move(inner);
  return block;
}

struct Turn {
  std::string role;  // "user" | "assistant"
  json blocks = json::array();
};

// Appends blocks to the last turn if it has the same role (Anthropic requires alternation).
json& turn_for(std::vector<Turn>& turns, std::string_view role) {
  if (turns.empty() || turns.back().role != role) turns.push_back(Turn{std::string(role)});
  return turns.back().blocks;
}

// A message with nothing to send (empty text, no calls) is left out: Anthropic refuses empty
// content, and leaving it out keeps the neighbouring turns mergeable.
void append_turn(std::vector<Turn>& turns, std::string_view role, json blocks) {
  if (blocks.empty()) return;
  json& turn = turn_for(turns, role);
  for (auto& block : blocks) turn.push_back(std::move(block));
}

Result<json> encode_tools(const std::vector<Tool>& tools) {
  json out = json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const Tool& tool = tools[i];
    json schema = {{"type", "object"}, {"properties", json::object()}};
    if (!tool.parameters_json.empty()) {
      auto parsed = detail::parse_json(tool.parameters_json);
      if (!parsed || !parsed->is_object()) {
        return invalid("tool parameters must be a JSON Schema object",
                       "tools[" + std::to_string(i) + "].function.parameters");
      }
      schema = std::move(*parsed);
    }
    json entry{{"name", tool.name}};
    if (!tool.description.empty()) entry["description"] = tool.description;
    entry["input_schema"] = std::move(schema);
    out.push_back(std::move(entry));
  }
  return out;
}

std::optional<json> encode_tool_choice(const ChatRequest& request) {
  bool no_parallel = request.parallel_tool_calls == false;
  json choice;
  switch (request.tool_choice.mode) {
    case ToolChoice::Mode::unset:
      if (!no_parallel) return std::nullopt;
      choice = {{"type", "auto"}};
      break;
    case ToolChoice::Mode::none:
      return json{{"type", "none"}};
    case ToolChoice::Mode::auto_:
      choice = {{"type", "auto"}};
      break;
    case ToolChoice::Mode::required:
      choice = {{"type", "any"}};
      break;
    case ToolChoice::Mode::function:
      choice = {{"type", "tool"}, {"name", request.tool_choice.function_name}};
      break;
  }
  if (no_parallel) choice["disable_parallel_tool_use"] = true;
  return choice;
}

}  // namespace

Result<std::string> encode_messages_body(const ChatRequest& request, bool stream) {
  if (request.n && *request.n > 1) {
    return invalid("the anthropic backend cannot return more than one choice (n > 1)", "n");
  }
  std::vector<std::string> system_texts;
  std::vector<Turn> turns;
  const bool anthropic_parts = request.surface == ApiSurface::messages;

  std::vector<Message> legacy;
  const std::vector<Message>* messages = &request.messages;
  if (request.surface == ApiSurface::completions && request.messages.empty()) {
    Message prompt;
    prompt.content.push_back(ContentPart{.text = request.prompt});
    legacy.push_back(std::move(prompt));
    messages = &legacy;
  }

  for (size_t i = 0; i < messages->size(); ++i) {
    const Message& message = (*messages)[i];
    std::string param = "messages[" + std::to_string(i) + "]";
    switch (message.role) {
      case Role::system:
      case Role::developer: {
        for (const auto& part : message.content) {
          if (part.kind != ContentPart::Kind::text) {
            return invalid("system messages may only contain text", param + ".content");
          }
        }
        std::string text = message.text();
        if (!text.empty()) system_texts.push_back(std::move(text));
        break;
      }
      case Role::user: {
        json blocks = json::array();
        if (auto ok = append_content(message, param, blocks, anthropic_parts); !ok) {
          return std::unexpected(ok.error());
        }
        append_turn(turns, "user", std::move(blocks));
        break;
      }
      case Role::assistant: {
        json blocks = json::array();
        if (auto ok = append_content(message, param, blocks, anthropic_parts); !ok) {
          return std::unexpected(ok.error());
        }
        if (message.text().empty() && message.tool_calls.empty() && !message.refusal.empty()) {
          blocks.push_back(json{{"type", "text"}, {"text", message.refusal}});
        }
        for (size_t c = 0; c < message.tool_calls.size(); ++c) {
          auto block = encode_tool_use(message.tool_calls[c],
                                       param + ".tool_calls[" + std::to_string(c) + "]");
          if (!block) return std::unexpected(block.error());
          blocks.push_back(std::move(*block));
        }
        append_turn(turns, "assistant", std::move(blocks));
        break;
      }
      case Role::tool: {
        if (message.tool_call_id.empty()) {
          return invalid("tool messages need a tool_call_id", param + ".tool_call_id");
        }
        auto block = encode_tool_result(message, param, anthropic_parts);
        if (!block) return std::unexpected(block.error());
        turn_for(turns, "user").push_back(std::move(*block));
        break;
      }
    }
  }

  if (request.response_format.type == ResponseFormat::Type::json_object ||
      request.response_format.type == ResponseFormat::Type::json_schema) {
    system_texts.push_back(json_instruction(request.response_format));
  }

  json body = json::object();
  body["model"] = request.model;
  body["max_tokens"] = request.max_tokens.value_or(kDefaultMaxTokens);
  if (!system_texts.empty()) {
    std::string system;
    for (const auto& text : system_texts) {
      if (!system.empty()) system += "\n\n";
      system += text;
    }
    body["system"] = std::move(system);
  }
  json encoded_turns = json::array();
  for (auto& turn : turns) {
    json content = std::move(turn.blocks);
    // A lone text block is sent as a plain string, as the SDKs do.
    if (content.size() == 1 && content[0]["type"] == "text") {
      content = content[0]["text"];
    }
    encoded_turns.push_back(json{{"role", turn.role}, {"content", std::move(content)}});
  }
  body["messages"] = std::move(encoded_turns);
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.top_p) body["top_p"] = *request.top_p;
  if (!request.stop.empty()) body["stop_sequences"] = request.stop;
  if (!request.user.empty()) body["metadata"] = json{{"user_id", request.user}};
  if (!request.tools.empty()) {
    auto tools = encode_tools(request.tools);
    if (!tools) return std::unexpected(tools.error());
    body["tools"] = std::move(*tools);
    if (auto choice = encode_tool_choice(request)) body["tool_choice"] = std::move(*choice);
  } else if (request.tool_choice.mode == ToolChoice::Mode::function) {
    return invalid("tool_choice names a function but no tools were given", "tool_choice");
  }
  if (stream) body["stream"] = true;
  if (anthropic_parts) {
    // Members of the client's Anthropic request that the vocabulary has no field for
    // (thinking, top_k, service_tier, ...): known members win.
    for (const auto& field : request.extra) {
      if (body.contains(field.key)) continue;
      if (auto value = detail::parse_json(field.value_json)) body[field.key] = std::move(*value);
    }
  }
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace sy::backends::anthropic
