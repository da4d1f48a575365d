#include "local/local_request.h"

#include <algorithm>
#include <exception>

#include "local/tool_call_format.h"
#include "switchyard/local_engine/chat_template.h"

namespace sy::backends::local {

namespace {

std::unexpected<Error> invalid(std::string param, std::string message) {
  return std::unexpected(
      Error{.kind = ErrorKind::invalid_request, .message = std::move(message), .param = param});
}

// The name of the function an earlier assistant turn called with `id`.
std::string function_for(const std::vector<Message>& messages, size_t before,
                         const std::string& id) {
  for (size_t i = before; i-- > 0;) {
    for (const ToolCall& call : messages[i].tool_calls) {
      if (call.id == id) return call.name;
    }
  }
  return {};
}

// The conversation as the chat template takes it: text only, tool turns as user turns (few
// templates know a tool role), consecutive turns of one role merged (templates that require
// alternation refuse them otherwise).
Result<std::vector<engine::ChatMessage>> chat_messages(const ChatRequest& request) {
  std::vector<engine::ChatMessage> out;
  for (size_t i = 0; i < request.messages.size(); ++i) {
    const Message& m = request.messages[i];
    for (const ContentPart& part : m.content) {
      if (part.kind != ContentPart::Kind::text) {
        return invalid("messages[" + std::to_string(i) + "].content",
                       "Local models take text only; message " + std::to_string(i) +
                           " has a non-text content part");
      }
    }
    engine::ChatMessage turn;
    switch (m.role) {
      case Role::system:
      case Role::developer:
        turn.role = "system";
        break;
      case Role::user:
        turn.role = "user";
        break;
      case Role::assistant:
        turn.role = "assistant";
        break;
      case Role::tool:
        turn.role = "user";
        break;
    }
    turn.content = m.text();
    if (m.role == Role::assistant) {
      for (const ToolCall& call : m.tool_calls) {
        if (!turn.content.empty()) turn.content += "\n";
        turn.content += render_tool_call(call);
      }
    } else if (m.role == Role::tool) {
      std::string name = function_for(request.messages, i, m.tool_call_id);
      turn.content =
          "Result of " + (name.empty() ? std::string("the function") : name) + ": " + turn.content;
    }
    if (!out.empty() && out.back().role == turn.role) {
      out.back().content += "\n\n" + turn.content;
    } else {
      out.push_back(std::move(turn));
    }
  }
  if (out.empty()) return invalid("messages", "messages must not be empty");
  return out;
}

void add_instructions(std::vector<engine::ChatMessage>& messages, const std::string& text) {
  if (!messages.empty() && messages.front().role == "system") {
    messages.front().content = text + "\n" + messages.front().content;
  } else {
    messages.insert(messages.begin(), engine::ChatMessage{.role = "system", .content = text});
  }
}

}  // namespace

Result<PreparedRequest> prepare_request(const ChatRequest& request, const engine::Model& model,
                                        const PrepareOptions& options) {
  PreparedRequest prepared;
  engine::SequenceRequest& seq = prepared.sequence;
  const engine::Tokenizer& tokenizer = model.tokenizer();

  if (request.surface == ApiSurface::completions) {
    seq.prompt = tokenizer.encode(request.prompt, {.add_special = true, .parse_special = false});
  } else {
    const ToolChoice& choice = request.tool_choice;
    const bool tools_on = !request.tools.empty() && choice.mode != ToolChoice::Mode::none;
    std::string only;
    if (choice.mode == ToolChoice::Mode::function) {
      only = choice.function_name;
      const bool offered = std::any_of(request.tools.begin(), request.tools.end(),
                                       [&](const Tool& t) { return t.name == only; });
      if (!offered) {
        return invalid("tool_choice", "tool_choice names function '" + only.substr(0, 200) +
                                          "', which is not in tools");
      }
    }
    if (choice.mode == ToolChoice::Mode::required && request.tools.empty()) {
      return invalid("tool_choice", "tool_choice is required but no tools were given");
    }
    const ResponseFormat& format = request.response_format;
    if (tools_on &&
        (choice.mode == ToolChoice::Mode::required || choice.mode == ToolChoice::Mode::function)) {
      prepared.mode = OutputMode::tool_forced;
      prepared.constrained = true;
      prepared.schema = tool_call_schema(request.tools, only);
    } else if (format.type == ResponseFormat::Type::json_object ||
               format.type == ResponseFormat::Type::json_schema) {
      prepared.mode = OutputMode::json;
      prepared.constrained = true;
      prepared.schema = format.type == ResponseFormat::Type::json_schema ? format.schema_json : "";
      if (format.type == ResponseFormat::Type::json_schema && prepared.schema.empty()) {
        return invalid("response_format.json_schema.schema",
                       "response_format json_schema needs a schema");
      }
    } else if (tools_on) {
      prepared.mode = OutputMode::tool_auto;
    }
    if (tools_on) prepared.tools = request.tools;

    auto messages = chat_messages(request);
    if (!messages) return std::unexpected(std::move(messages.error()));
    if (tools_on) add_instructions(*messages, tool_instructions(request.tools, only));
    engine::ChatOptions chat_options;
    chat_options.configured_family = options.chat_template;
    engine::ChatPrompt rendered;
    try {
      rendered = engine::render_chat(model, *messages, chat_options);
    } catch (const std::exception& e) {
      return invalid("messages", e.what());
    }
    prepared.notice = std::move(rendered.notice);
    seq.prompt =
        tokenizer.encode(rendered.text, {.add_special = !rendered.has_bos, .parse_special = true});
  }
  if (seq.prompt.empty()) return invalid("messages", "the prompt is empty");

  // No max_tokens: as long as the context allows (the engine caps it there).
  seq.max_tokens = request.max_tokens && *request.max_tokens > 0
                       ? static_cast<size_t>(*request.max_tokens)
                       : static_cast<size_t>(model.config().context_length);
  engine::SamplerOptions& s = seq.sampling;
  s.temperature = static_cast<float>(request.temperature.value_or(1.0));  // OpenAI's default
  s.top_p = static_cast<float>(request.top_p.value_or(1.0));
  s.frequency_penalty = static_cast<float>(request.frequency_penalty.value_or(0.0));
  s.presence_penalty = static_cast<float>(request.presence_penalty.value_or(0.0));
  s.seed = request.seed ? static_cast<uint64_t>(*request.seed) : options.seed;
  seq.stop = request.stop;
  if (request.logprobs.value_or(false)) {
    prepared.logprobs = true;
    seq.logprobs = true;
    seq.top_logprobs = static_cast<size_t>(std::max(0, request.top_logprobs.value_or(0)));
  }
  seq.priority = request.bulk ? engine::Priority::bulk : engine::Priority::interactive;
  return prepared;
}

}  // namespace sy::backends::local
