#include "api/anthropic_request_parser.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace sy::gateway {

namespace {

using backends::ChatRequest;
using backends::ContentPart;
using backends::Error;
using backends::ErrorKind;
using backends::Message;
using backends::Result;
using backends::Role;
using nlohmann::json;

// Parse errors name the field the way Anthropic's own messages do: "messages.0.content".
std::unexpected<Error> invalid(const std::string& path, const std::string& message) {
  std::string param = path;
  return std::unexpected(Error{.kind = ErrorKind::invalid_request,
                               .message = path.empty() ? message : path + ": " + message,
                               .param = std::move(param)});
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string at(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string at(const std::string& path, size_t index) { return path + "." + std::to_string(index); }

const json* member(const json& object, std::string_view key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

Result<std::string> required_string(const json& object, const std::string& path,
                                    std::string_view key) {
  const json* value = member(object, key);
  if (value == nullptr) return invalid(at(path, key), "Field required");
  if (!value->is_string()) return invalid(at(path, key), "Input should be a valid string");
  return value->get<std::string>();
}

// Optional string: "" when absent or null.
Result<std::string> optional_string(const json& object, const std::string& path,
                                    std::string_view key) {
  const json* value = member(object, key);
  if (value == nullptr || value->is_null()) return std::string();
  if (!value->is_string()) return invalid(at(path, key), "Input should be a valid string");
  return value->get<std::string>();
}

Result<ContentPart> parse_image(const json& block, const std::string& path) {
  const json* source = member(block, "source");
  if (source == nullptr) return invalid(at(path, "source"), "Field required");
  if (!source->is_object()) return invalid(at(path, "source"), "Input should be an object");
  std::string spath = at(path, "source");
  auto type = required_string(*source, spath, "type");
  if (!type) return std::unexpected(type.error());
  if (*type == "base64") {
    auto media_type = required_string(*source, spath, "media_type");
    if (!media_type) return std::unexpected(media_type.error());
    auto data = required_string(*source, spath, "data");
    if (!data) return std::unexpected(data.error());
    return ContentPart{.kind = ContentPart::Kind::image_url,
                       .url = "data:" + *media_type + ";base64," + *data};
  }
  if (*type == "url") {
    auto url = required_string(*source, spath, "url");
    if (!url) return std::unexpected(url.error());
    return ContentPart{.kind = ContentPart::Kind::image_url, .url = *url};
  }
  // A file reference (Files API) means something only to Anthropic.
  return ContentPart{.kind = ContentPart::Kind::other, .raw_json = dump(block)};
}

Result<ContentPart> parse_document(const json& block, const std::string& path) {
  const json* source = member(block, "source");
  if (source == nullptr) return invalid(at(path, "source"), "Field required");
  if (!source->is_object()) return invalid(at(path, "source"), "Input should be an object");
  auto type = required_string(*source, at(path, "source"), "type");
  if (!type) return std::unexpected(type.error());
  if (*type == "text") {
    auto data = required_string(*source, at(path, "source"), "data");
    if (!data) return std::unexpected(data.error());
    auto title = optional_string(block, path, "title");
    if (!title) return std::unexpected(title.error());
    std::string text = title->empty() ? *data : *title + "\n\n" + *data;
    return ContentPart{.kind = ContentPart::Kind::text, .text = std::move(text)};
  }
  return ContentPart{.kind = ContentPart::Kind::other, .raw_json = dump(block)};
}

Result<std::string> block_type(const json& block, const std::string& path) {
  if (!block.is_object()) return invalid(path, "Input should be an object");
  return required_string(block, path, "type");
}

Result<ContentPart> parse_text_block(const json& block, const std::string& path) {
  auto text = required_string(block, path, "text");
  if (!text) return std::unexpected(text.error());
  return ContentPart{.kind = ContentPart::Kind::text, .text = std::move(*text)};
}

// tool_result content: a string, or text / image (/ document, search_result) blocks.
Result<Message> parse_tool_result(const json& block, const std::string& path) {
  Message tool;
  tool.role = Role::tool;
  auto id = required_string(block, path, "tool_use_id");
  if (!id) return std::unexpected(id.error());
  if (id->empty()) return invalid(at(path, "tool_use_id"), "String should have at least 1 character");
  tool.tool_call_id = std::move(*id);
  bool is_error = false;
  if (const json* e = member(block, "is_error"); e != nullptr && !e->is_null()) {
    if (!e->is_boolean()) return invalid(at(path, "is_error"), "Input should be a valid boolean");
    is_error = e->get<bool>();
  }
  const json* content = member(block, "content");
  if (content == nullptr || content->is_null()) {
    tool.content.push_back(ContentPart{.text = ""});
  } else if (content->is_string()) {
    tool.content.push_back(ContentPart{.text = content->get<std::string>()});
  } else if (content->is_array()) {
    tool.content_is_text = false;
    for (size_t i = 0; i < content->size(); ++i) {
      const json& inner = (*content)[i];
      std::string ipath = at(at(path, "content"), i);
      auto type = block_type(inner, ipath);
      if (!type) return std::unexpected(type.error());
      Result<ContentPart> part = *type == "text"       ? parse_text_block(inner, ipath)
                                 : *type == "image"    ? parse_image(inner, ipath)
                                 : *type == "document" ? parse_document(inner, ipath)
                                                       : ContentPart{.kind = ContentPart::Kind::other,
                                                                     .raw_json = dump(inner)};
      if (!part) return std::unexpected(part.error());
      tool.content.push_back(std::move(*part));
    }
    if (std::all_of(tool.content.begin(), tool.content.end(),
                    [](const ContentPart& p) { return p.kind == ContentPart::Kind::text; })) {
      tool.content_is_text = true;  // text only: other vendors take the joined string
    }
  } else {
    return invalid(at(path, "content"), "Input should be a valid string or list of blocks");
  }
  if (is_error) {
    if (tool.content.empty() || tool.content.front().kind != ContentPart::Kind::text) {
      tool.content.insert(tool.content.begin(), ContentPart{});
    }
    tool.content.front().text = "Error: " + tool.content.front().text;
  }
  return tool;
}

Result<backends::ToolCall> parse_tool_use(const json& block, const std::string& path) {
  auto id = required_string(block, path, "id");
  if (!id) return std::unexpected(id.error());
  auto name = required_string(block, path, "name");
  if (!name) return std::unexpected(name.error());
  const json* input = member(block, "input");
  if (input == nullptr) return invalid(at(path, "input"), "Field required");
  if (!input->is_object()) return invalid(at(path, "input"), "Input should be an object");
  return backends::ToolCall{.id = std::move(*id), .name = std::move(*name), .arguments = dump(*input)};
}

// One message of `messages` -> one or more vocabulary messages (tool results are their own).
backends::Status parse_message(const json& m, const std::string& path, std::vector<Message>& out) {
  if (!m.is_object()) return invalid(path, "Input should be an object");
  auto role_text = required_string(m, path, "role");
  if (!role_text) return std::unexpected(role_text.error());
  if (*role_text != "user" && *role_text != "assistant") {
    return invalid(at(path, "role"), "Input should be 'user' or 'assistant'");
  }
  const Role role = *role_text == "user" ? Role::user : Role::assistant;
  const json* content = member(m, "content");
  if (content == nullptr) return invalid(at(path, "content"), "Field required");
  Message current;
  current.role = role;
  if (content->is_string()) {
    current.content.push_back(ContentPart{.text = content->get<std::string>()});
    out.push_back(std::move(current));
    return {};
  }
  if (!content->is_array()) {
    return invalid(at(path, "content"), "Input should be a valid string or list of blocks");
  }
  current.content_is_text = false;
  bool any = false;  // whether `current` holds anything yet
  for (size_t i = 0; i < content->size(); ++i) {
    const json& block = (*content)[i];
    std::string bpath = at(at(path, "content"), i);
    auto type = block_type(block, bpath);
    if (!type) return std::unexpected(type.error());
    if (*type == "tool_result") {
      if (role != Role::user) return invalid(at(bpath, "type"), "tool_result blocks belong to user turns");
      auto tool = parse_tool_result(block, bpath);
      if (!tool) return std::unexpected(tool.error());
      if (any) {  // keep the turn's order: what came before the result goes first
        out.push_back(std::move(current));
        current = Message{.role = role, .content_is_text = false};
        any = false;
      }
      out.push_back(std::move(*tool));
      continue;
    }
    if (*type == "tool_use") {
      if (role != Role::assistant) return invalid(at(bpath, "type"), "tool_use blocks belong to assistant turns");
      auto call = parse_tool_use(block, bpath);
      if (!call) return std::unexpected(call.error());
      current.tool_calls.push_back(std::move(*call));
      any = true;
      continue;
    }
    Result<ContentPart> part;
    if (*type == "text") {
      part = parse_text_block(block, bpath);
    } else if (*type == "image") {
      part = parse_image(block, bpath);
    } else if (*type == "document") {
      part = parse_document(block, bpath);
    } else if (*type == "thinking" || *type == "redacted_thinking") {
      if (role != Role::assistant) return invalid(at(bpath, "type"), *type + " blocks belong to assistant turns");
      auto field = required_string(block, bpath, *type == "thinking" ? "thinking" : "data");
      if (!field) return std::unexpected(field.error());
      // Kept verbatim: its signature covers the exact text.
      part = ContentPart{.kind = ContentPart::Kind::other, .raw_json = dump(block)};
    } else {
      part = ContentPart{.kind = ContentPart::Kind::other, .raw_json = dump(block)};
    }
    if (!part) return std::unexpected(part.error());
    current.content.push_back(std::move(*part));
    any = true;
  }
  if (any || content->empty()) {
    if (current.content.empty() && !current.tool_calls.empty()) current.content_is_null = true;
    out.push_back(std::move(current));
  }
  return {};
}

backends::Status parse_system(const json& system, ChatRequest& request) {
  Message message;
  message.role = Role::system;
  if (system.is_string()) {
    if (system.get_ref<const std::string&>().empty()) return {};
    message.content.push_back(ContentPart{.text = system.get<std::string>()});
  } else if (system.is_array()) {
    message.content_is_text = false;
    for (size_t i = 0; i < system.size(); ++i) {
      std::string path = at("system", i);
      auto type = block_type(system[i], path);
      if (!type) return std::unexpected(type.error());
      if (*type != "text") return invalid(at(path, "type"), "Input should be 'text'");
      auto part = parse_text_block(system[i], path);
      if (!part) return std::unexpected(part.error());
      message.content.push_back(std::move(*part));
    }
    if (message.content.empty()) return {};
  } else if (!system.is_null()) {
    return invalid("system", "Input should be a valid string or list of text blocks");
  }
  if (!message.content.empty()) request.messages.insert(request.messages.begin(), std::move(message));
  return {};
}

backends::Status parse_tools(const json& tools, ChatRequest& request) {
  if (!tools.is_array()) return invalid("tools", "Input should be a valid list");
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& tool = tools[i];
    std::string path = at("tools", i);
    if (!tool.is_object()) return invalid(path, "Input should be an object");
    auto type = optional_string(tool, path, "type");
    if (!type) return std::unexpected(type.error());
    if (!type->empty() && *type != "custom") continue;  // a server tool: Anthropic runs it
    auto name = required_string(tool, path, "name");
    if (!name) return std::unexpected(name.error());
    if (name->empty()) return invalid(at(path, "name"), "String should have at least 1 character");
    auto description = optional_string(tool, path, "description");
    if (!description) return std::unexpected(description.error());
    const json* schema = member(tool, "input_schema");
    if (schema == nullptr) return invalid(at(path, "input_schema"), "Field required");
    if (!schema->is_object()) return invalid(at(path, "input_schema"), "Input should be an object");
    request.tools.push_back(backends::Tool{.name = std::move(*name),
                                           .description = std::move(*description),
                                           .parameters_json = dump(*schema)});
  }
  return {};
}

backends::Status parse_tool_choice(const json& choice, ChatRequest& request) {
  using Mode = backends::ToolChoice::Mode;
  if (!choice.is_object()) return invalid("tool_choice", "Input should be an object");
  auto type = required_string(choice, "tool_choice", "type");
  if (!type) return std::unexpected(type.error());
  if (*type == "auto") {
    request.tool_choice.mode = Mode::auto_;
  } else if (*type == "any") {
    request.tool_choice.mode = Mode::required;
  } else if (*type == "none") {
    request.tool_choice.mode = Mode::none;
  } else if (*type == "tool") {
    auto name = required_string(choice, "tool_choice", "name");
    if (!name) return std::unexpected(name.error());
    request.tool_choice.mode = Mode::function;
    request.tool_choice.function_name = std::move(*name);
  } else {
    return invalid("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'");
  }
  if (const json* d = member(choice, "disable_parallel_tool_use"); d != nullptr && !d->is_null()) {
    if (!d->is_boolean()) {
      return invalid("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean");
    }
    if (d->get<bool>()) request.parallel_tool_calls = false;
  }
  return {};
}

backends::Status parse_metadata(const json& metadata, ChatRequest& request) {
  if (metadata.is_null()) return {};
  if (!metadata.is_object()) return invalid("metadata", "Input should be an object");
  for (auto it = metadata.begin(); it != metadata.end(); ++it) {
    if (it.value().is_null()) continue;
    if (!it.value().is_string()) return invalid(at("metadata", it.key()), "Input should be a valid string");
    if (it.key() == "user_id") {
      request.user = it.value().get<std::string>();
    } else {
      request.metadata.emplace_back(it.key(), it.value().get<std::string>());
    }
  }
  return {};
}

Result<double> number_in(const json& value, const std::string& path, double lo, double hi) {
  if (!value.is_number()) return invalid(path, "Input should be a valid number");
  double v = value.get<double>();
  if (v < lo || v > hi) {
    return invalid(path, "Input should be between " + std::to_string(lo).substr(0, 3) + " and " +
                             std::to_string(hi).substr(0, 3));
  }
  return v;
}

// anthropic-version is a date ("2023-06-01"); anthropic-beta a comma-separated list of names.
bool plain_header_value(std::string_view value, size_t max) {
  return !value.empty() && value.size() <= max &&
         std::all_of(value.begin(), value.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                  c == '.' || c == ',' || c == ' ';
         });
}

}  // namespace

Result<ChatRequest> parse_messages_request(std::string_view body, const backends::Headers& headers,
                                           bool count_tokens, const MessagesParseLimits& limits) {
  auto native = std::make_shared<backends::NativeRequest>();
  native->protocol = "anthropic";
  for (std::string_view name : {"anthropic-version", "anthropic-beta"}) {
    if (auto value = backends::find_header(headers, name)) {
      if (!plain_header_value(*value, name == "anthropic-beta" ? 1024 : 64)) {
        return std::unexpected(Error{.kind = ErrorKind::invalid_request,
                                     .message = std::string(name) + ": invalid header value",
                                     .param = std::string(name)});
      }
      native->headers.emplace_back(std::string(name), std::string(*value));
    }
  }

  bool too_deep = false;
  json root = json::parse(
      body,
      [&](int depth, json::parse_event_t, json&) {
        if (static_cast<size_t>(depth) > limits.max_depth) too_deep = true;
        return !too_deep;
      },
      /*allow_exceptions=*/false);
  if (too_deep) {
    return invalid("", "Request body nests deeper than " + std::to_string(limits.max_depth) +
                           " levels");
  }
  if (root.is_discarded()) return invalid("", "Request body is not valid JSON");
  if (!root.is_object()) return invalid("", "Request body must be a JSON object");

  try {
    ChatRequest request;
    request.surface = backends::ApiSurface::messages;

    auto model = required_string(root, "", "model");
    if (!model) return std::unexpected(model.error());
    if (model->empty()) return invalid("model", "String should have at least 1 character");
    request.model = std::move(*model);

    if (!count_tokens) {
      const json* max_tokens = member(root, "max_tokens");
      if (max_tokens == nullptr) return invalid("max_tokens", "Field required");
      if (!max_tokens->is_number_integer()) {
        return invalid("max_tokens", "Input should be a valid integer");
      }
      if (max_tokens->get<int64_t>() < 1) {
        return invalid("max_tokens", "Input should be greater than or equal to 1");
      }
      request.max_tokens = max_tokens->get<int64_t>();
    }

    const json* messages = member(root, "messages");
    if (messages == nullptr) return invalid("messages", "Field required");
    if (!messages->is_array()) return invalid("messages", "Input should be a valid list");
    if (messages->empty()) return invalid("messages", "At least one message is required");
    for (size_t i = 0; i < messages->size(); ++i) {
      if (auto ok = parse_message((*messages)[i], at("messages", i), request.messages); !ok) {
        return std::unexpected(ok.error());
      }
    }

    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string& key = it.key();
      const json& value = it.value();
      backends::Status ok;
      if (key == "model" || key == "max_tokens" || key == "messages") {
        continue;
      } else if (key == "system") {
        ok = parse_system(value, request);
      } else if (key == "tools") {
        ok = parse_tools(value, request);
      } else if (key == "tool_choice") {
        ok = value.is_null() ? backends::Status{} : parse_tool_choice(value, request);
      } else if (key == "metadata") {
        ok = parse_metadata(value, request);
      } else if (key == "stop_sequences" && !value.is_null()) {
        if (!value.is_array()) return invalid(key, "Input should be a valid list");
        for (size_t i = 0; i < value.size(); ++i) {
          if (!value[i].is_string()) return invalid(at(key, i), "Input should be a valid string");
          request.stop.push_back(value[i].get<std::string>());
        }
      } else if (key == "stream" && !count_tokens) {
        if (!value.is_boolean() && !value.is_null()) {
          return invalid(key, "Input should be a valid boolean");
        }
        request.stream = value.is_boolean() && value.get<bool>();
      } else if (key == "temperature" && !value.is_null()) {
        auto v = number_in(value, key, 0.0, 1.0);
        if (!v) return std::unexpected(v.error());
        request.temperature = *v;
      } else if (key == "top_p" && !value.is_null()) {
        auto v = number_in(value, key, 0.0, 1.0);
        if (!v) return std::unexpected(v.error());
        request.top_p = *v;
      } else if (key == "thinking" && !value.is_null()) {
        if (!value.is_object()) return invalid(key, "Input should be an object");
        auto type = required_string(value, key, "type");
        if (!type) return std::unexpected(type.error());
        request.extra.push_back({key, dump(value)});
      } else if (!value.is_null()) {
        // Anthropic members the vocabulary has no field for (top_k, service_tier, ...).
        request.extra.push_back({key, dump(value)});
      }
      if (!ok) return std::unexpected(ok.error());
    }
    native->body = std::string(body);
    request.native = std::move(native);
    return request;
  } catch (const std::exception& e) {
    return invalid("", std::string("Malformed request: ") + e.what());
  }
}

}  // namespace sy::gateway
