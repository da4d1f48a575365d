#include "local/tool_call_format.h"

#include "openai/json_support.h"

namespace sy::backends::local {

namespace {

using openai::detail::Json;

// Deeper model output than this is not a tool call (and never reaches the parser).
constexpr size_t kMaxCallDepth = 64;

Json empty_object_schema() {
  return Json{{"type", "object"}, {"properties", Json::object()}, {"additionalProperties", false}};
}

// Rewrites "#/$defs/X" references inside `node` to "#/$defs/<prefix>X".
void prefix_refs(Json& node, const std::string& prefix) {
  if (node.is_object()) {
    for (auto& [key, value] : node.items()) {
      if (key == "$ref" && value.is_string()) {
        std::string ref = value.get<std::string>();
        for (std::string_view root : {"#/$defs/", "#/definitions/"}) {
          if (ref.starts_with(root)) {
            value = "#/$defs/" + prefix + ref.substr(root.size());
            break;
          }
        }
      } else {
        prefix_refs(value, prefix);
      }
    }
  } else if (node.is_array()) {
    for (auto& item : node) prefix_refs(item, prefix);
  }
}

// One tool's parameters schema, its definitions moved into `defs`.
Json parameters_of(const Tool& tool, size_t index, Json& defs) {
  if (tool.parameters_json.empty()) return empty_object_schema();
  std::optional<Json> parsed = openai::detail::parse_json(tool.parameters_json);
  if (!parsed || !parsed->is_object()) return empty_object_schema();
  Json params = std::move(*parsed);
  const std::string prefix = "t" + std::to_string(index) + "_";
  prefix_refs(params, prefix);
  for (const char* key : {"$defs", "definitions"}) {
    auto it = params.find(key);
    if (it == params.end()) continue;
    if (it->is_object()) {
      for (auto& [name, def] : it->items()) defs[prefix + name] = def;
    }
    params.erase(it);
  }
  if (params.empty()) return empty_object_schema();
  return params;
}

}  // namespace

std::string tool_call_schema(const std::vector<Tool>& tools, std::string_view only) {
  Json defs = Json::object();
  Json options = Json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const Tool& tool = tools[i];
    if (!only.empty() && tool.name != only) continue;
    Json properties = Json::object();
    properties["name"] = Json{{"const", tool.name}};
    properties["arguments"] = parameters_of(tool, i, defs);
    options.push_back(Json{{"type", "object"},
                           {"properties", std::move(properties)},
                           {"required", Json::array({"name", "arguments"})},
                           {"additionalProperties", false}});
  }
  Json schema = options.size() == 1 ? std::move(options[0]) : Json{{"anyOf", std::move(options)}};
  if (!defs.empty()) schema["$defs"] = std::move(defs);
  return openai::detail::dump(schema);
}

std::string tool_instructions(const std::vector<Tool>& tools, std::string_view only) {
  std::string out =
      "You can call functions. To call one, answer with only a JSON object "
      "{\"name\": <function name>, \"arguments\": <object of its parameters>} and nothing else.\n"
      "Functions:\n";
  for (const Tool& tool : tools) {
    if (!only.empty() && tool.name != only) continue;
    out += "- " + tool.name;
    if (!tool.description.empty()) out += ": " + tool.description;
    out += "\n  parameters: " + (tool.parameters_json.empty() ? "{}" : tool.parameters_json) + "\n";
  }
  return out;
}

std::optional<ToolCall> parse_tool_call(std::string_view text, const std::vector<Tool>& tools) {
  const size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || text[start] != '{') return std::nullopt;
  if (openai::detail::json_depth(text, kMaxCallDepth) > kMaxCallDepth) return std::nullopt;
  std::optional<Json> parsed = openai::detail::parse_json(text);
  if (!parsed || !parsed->is_object() || parsed->size() != 2) return std::nullopt;
  auto name = parsed->find("name");
  auto arguments = parsed->find("arguments");
  if (name == parsed->end() || !name->is_string()) return std::nullopt;
  if (arguments == parsed->end() || !arguments->is_object()) return std::nullopt;
  const std::string called = name->get<std::string>();
  bool known = false;
  for (const Tool& tool : tools) known = known || tool.name == called;
  if (!known) return std::nullopt;
  return ToolCall{.id = "", .name = called, .arguments = openai::detail::dump(*arguments)};
}

std::string render_tool_call(const ToolCall& call) {
  Json arguments = Json::object();
  if (std::optional<Json> parsed = openai::detail::parse_json(call.arguments)) {
    arguments = std::move(*parsed);
  }
  return openai::detail::dump(Json{{"name", call.name}, {"arguments", std::move(arguments)}});
}

}  // namespace sy::backends::local
