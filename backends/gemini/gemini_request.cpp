// ChatRequest -> Gemini generateContent request body.
//
// Mapping notes:
// - system and developer messages are hoisted into `systemInstruction` (one text part each).
// - roles are user/model; tool results are `functionResponse` parts of a user turn, named
//   after the function of the matching earlier tool call; consecutive same-role turns are
//   merged, as Gemini expects turns to alternate.
// - function call ids are not sent back: Gemini pairs calls and responses by name and order,
//   and ids minted by other vendors or by us mean nothing to it.
// - response_format json modes use Gemini's native responseMimeType/responseJsonSchema.
// - logprobs and parallel_tool_calls have no equivalent and are dropped.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/data_url.h"
#include "common/vendor_json.h"
#include "gemini_translator.h"

namespace sy::backends::gemini {

namespace {

using nlohmann::json;

std::unexpected<Error> invalid(std::string message, std::string param) {
  return std::unexpected(
      Error{.kind = ErrorKind::invalid_request, .message = std::move(message), .param = param});
}

Result<json> encode_part(const ContentPart& part, const std::string& param) {
  switch (part.kind) {
    case ContentPart::Kind::text:
      return json{{"text", part.text}};
    case ContentPart::Kind::image_url: {
      if (auto data = detail::parse_base64_data_url(part.url)) {
        return json{{"inlineData", {{"mimeType", data->media_type}, {"data", data->data}}}};
      }
      if (detail::is_http_url(part.url)) {
        json file{{"fileUri", part.url}};
        if (std::string type = detail::guess_media_type(part.url); !type.empty()) {
          file["mimeType"] = type;
        }
        return json{{"fileData", std::move(file)}};
      }
      return invalid("image_url must be an http(s) URL or a base64 data: URL", param);
    }
    case ContentPart::Kind::other:
      break;
  }
  return invalid("this content part type is not supported by the gemini backend", param);
}

Status append_parts(const Message& message, const std::string& param, json& parts) {
  for (size_t i = 0; i < message.content.size(); ++i) {
    const ContentPart& part = message.content[i];
    if (part.kind == ContentPart::Kind::text && part.text.empty()) continue;
    auto encoded = encode_part(part, param + ".content[" + std::to_string(i) + "]");
    if (!encoded) return std::unexpected(encoded.error());
    parts.push_back(std::move(*encoded));
  }
  return {};
}

struct Turn {
  std::string role;  // "user" | "model"
  json parts = json::array();
};

json& parts_for(std::vector<Turn>& turns, std::string_view role) {
  if (turns.empty() || turns.back().role != role) turns.push_back(Turn{std::string(role)});
  return turns.back().parts;
}

Result<json> encode_tools(const std::vector<Tool>& tools) {
  json declarations = json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const Tool& tool = tools[i];
    json declaration{{"name", tool.name}};
    if (!tool.description.empty()) declaration["description"] = tool.description;
    if (!tool.parameters_json.empty()) {
      auto schema = detail::parse_json(tool.parameters_json);
      if (!schema || !schema->is_object()) {
        return invalid("tool parameters must be a JSON Schema object",
                       "tools[" + std::to_string(i) + "].function.parameters");
      }
      // parametersJsonSchema takes standard JSON Schema as clients write it (e.g. with
      // additionalProperties); `parameters` accepts only an OpenAPI subset and would reject it.
      declaration["parametersJsonSchema"] = std::move(*schema);
    }
    declarations.push_back(std::move(declaration));
  }
  return json::array({json{{"functionDeclarations", std::move(declarations)}}});
}

std::optional<json> encode_tool_config(const ToolChoice& choice) {
  json config;
  switch (choice.mode) {
    case ToolChoice::Mode::unset:
    case ToolChoice::Mode::auto_:  // Gemini's default; the official SDK leaves it out too
      return std::nullopt;
    case ToolChoice::Mode::none:
      config = {{"mode", "NONE"}};
      break;
    case ToolChoice::Mode::required:
      config = {{"mode", "ANY"}};
      break;
    case ToolChoice::Mode::function:
      config = {{"mode", "ANY"}, {"allowedFunctionNames", json::array({choice.function_name})}};
      break;
  }
  return json{{"functionCallingConfig", std::move(config)}};
}

Result<json> encode_generation_config(const ChatRequest& request) {
  json config = json::object();
  if (request.temperature) config["temperature"] = *request.temperature;
  if (request.top_p) config["topP"] = *request.top_p;
  if (request.max_tokens) config["maxOutputTokens"] = *request.max_tokens;
  if (!request.stop.empty()) config["stopSequences"] = request.stop;
  if (request.n) config["candidateCount"] = *request.n;
  if (request.seed) config["seed"] = *request.seed;
  if (request.presence_penalty) config["presencePenalty"] = *request.presence_penalty;
  if (request.frequency_penalty) config["frequencyPenalty"] = *request.frequency_penalty;
  const ResponseFormat& format = request.response_format;
  if (format.type == ResponseFormat::Type::json_object ||
      format.type == ResponseFormat::Type::json_schema) {
    config["responseMimeType"] = "application/json";
  }
  if (format.type == ResponseFormat::Type::json_schema && !format.schema_json.empty()) {
    auto schema = detail::parse_json(format.schema_json);
    if (!schema || !schema->is_object()) {
      return invalid("response_format.json_schema.schema must be a JSON object",
                     "response_format.json_schema.schema");
    }
    // responseJsonSchema takes standard JSON Schema (responseSchema only an OpenAPI subset).
    config["responseJsonSchema"] = std::move(*schema);
  }
  return config;
}

// A tool message's content -> functionResponse.response: Gemini wants an object. A JSON
// object goes as it is (as the official SDK sends it); anything else is wrapped as
// {"result": <the JSON it holds, or the text itself>}.
json tool_response(const Message& message) {
  std::string text = message.text();
  if (auto parsed = detail::parse_json(text); parsed && !text.empty()) {
    if (parsed->is_object()) return std::move(*parsed);
    return json{{"result", std::move(*parsed)}};
  }
  return json{{"result", text}};
}

}  // namespace

Result<std::string> encode_generate_body(const ChatRequest& request) {
  json system_parts = json::array();
  std::vector<Turn> turns;
  std::map<std::string, std::string> call_names;  // tool_call_id -> function name

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
      case Role::developer:
        if (auto ok = append_parts(message, param, system_parts); !ok) {
          return std::unexpected(ok.error());
        }
        break;
      case Role::user: {
        json parts = json::array();
        if (auto ok = append_parts(message, param, parts); !ok) return std::unexpected(ok.error());
        if (parts.empty()) break;  // Gemini refuses a turn without parts
        json& turn = parts_for(turns, "user");
        for (auto& part : parts) turn.push_back(std::move(part));
        break;
      }
      case Role::assistant: {
        json parts = json::array();
        if (auto ok = append_parts(message, param, parts); !ok) return std::unexpected(ok.error());
        for (size_t c = 0; c < message.tool_calls.size(); ++c) {
          const ToolCall& call = message.tool_calls[c];
          json args = json::object();
          if (!call.arguments.empty()) {
            auto parsed = detail::parse_json(call.arguments);
            if (!parsed || !parsed->is_object()) {
              return invalid("tool call arguments must be a JSON object",
                             param + ".tool_calls[" + std::to_string(c) + "].function.arguments");
            }
            args = std::move(*parsed);
          }
          call_names[call.id] = call.name;
          parts.push_back(json{{"functionCall", {{"name", call.name}, {"args", std::move(args)}}}});
        }
        if (parts.empty()) break;
        json& turn = parts_for(turns, "model");
        for (auto& part : parts) turn.push_back(std::move(part));
        break;
      }
      case Role::tool: {
        auto it = call_names.find(message.tool_call_id);
        std::string name = it != call_names.end() ? it->second : message.name;
        if (name.empty()) {
          return invalid("tool message answers no earlier tool call", param + ".tool_call_id");
        }
        parts_for(turns, "user")
            .push_back(
                json{{"functionResponse", {{"name", name}, {"response", tool_response(message)}}}});
        break;
      }
    }
  }

  json body = json::object();
  if (!system_parts.empty()) body["systemInstruction"] = json{{"parts", std::move(system_parts)}, {"role", "user"}};
  json contents = json::array();
  for (auto& turn : turns) {
    contents.push_back(json{{"role", turn.role}, {"parts", std::move(turn.parts)}});
  }
  body["contents"] = std::move(contents);
  if (!request.tools.empty()) {
    auto tools = encode_tools(request.tools);
    if (!tools) return std::unexpected(tools.error());
    body["tools"] = std::move(*tools);
    if (auto config = encode_tool_config(request.tool_choice)) body["toolConfig"] = *config;
  } else if (request.tool_choice.mode == ToolChoice::Mode::function) {
    return invalid("tool_choice names a function but no tools were given", "tool_choice");
  }
  auto generation = encode_generation_config(request);
  if (!generation) return std::unexpected(generation.error());
  if (!generation->empty()) body["generationConfig"] = std::move(*generation);
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace sy::backends::gemini
