// parse_chat_request / parse_completion_request: untrusted client JSON -> ChatRequest.
// Every rejection is invalid_request with `param` naming the offending field.

#include <cstdio>
#include <string>
#include <utility>

#include "json_support.h"
#include "openai_fast_parser.h"
#include "switchyard/backends/openai_json.h"

namespace sy::backends::openai {
namespace {

using detail::invalid;
using detail::Json;
using detail::type_name;

std::unexpected<Error> wrong_type(const std::string& param, std::string_view expected,
                                  const Json& got) {
  return invalid(param, "'" + param + "' must be " + std::string(expected) + ", got " +
                            std::string(type_name(got)));
}

Result<Json> parse_root(std::string_view body, const ParseLimits& limits) {
  if (detail::json_depth(body, limits.max_depth) > limits.max_depth) {
    return invalid(
        "", "request body is nested deeper than " + std::to_string(limits.max_depth) + " levels");
  }
  auto root = detail::parse_json(body);
  if (!root) return invalid("", "request body is not valid JSON");
  if (!root->is_object()) return invalid("", "request body must be a JSON object");
  return std::move(*root);
}

Status read_string(const Json& v, const std::string& param, std::string& out) {
  if (!v.is_string()) return wrong_type(param, "a string", v);
  out = v.get<std::string>();
  return {};
}

Status read_bool(const Json& v, const std::string& param, std::optional<bool>& out) {
  if (v.is_null()) return {};
  if (!v.is_boolean()) return wrong_type(param, "a boolean", v);
  out = v.get<bool>();
  return {};
}

std::string format_number(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

Status read_number(const Json& v, const std::string& param, double lo, double hi,
                   std::optional<double>& out) {
  if (v.is_null()) return {};
  if (!v.is_number()) return wrong_type(param, "a number", v);
  double d = v.get<double>();
  if (d < lo || d > hi) {
    return invalid(param, "'" + param + "' must be between " + format_number(lo) + " and " +
                              format_number(hi));
  }
  out = d;
  return {};
}

template <class Int>
Status read_int(const Json& v, const std::string& param, int64_t lo, int64_t hi,
                std::optional<Int>& out) {
  if (v.is_null()) return {};
  if (!v.is_number_integer()) return wrong_type(param, "an integer", v);
  // Positive literals arrive as unsigned; above INT64_MAX they would wrap when read signed.
  const bool too_big = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi);
  int64_t i = too_big ? hi : v.get<int64_t>();
  if (too_big || i < lo || i > hi) {
    return invalid(param, "'" + param + "' must be between " + std::to_string(lo) + " and " +
                              std::to_string(hi));
  }
  out = static_cast<Int>(i);
  return {};
}

Status read_stop(const Json& v, std::vector<std::string>& out) {
  if (v.is_null()) return {};
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
    return {};
  }
  if (!v.is_array()) return wrong_type("stop", "a string or an array of strings", v);
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) return wrong_type("stop[" + std::to_string(i) + "]", "a string", v[i]);
    out.push_back(v[i].get<std::string>());
  }
  return {};
}

Status read_metadata(const Json& v, ChatRequest& request) {
  if (v.is_null()) return {};
  if (!v.is_object()) return wrong_type("metadata", "an object", v);
  for (const auto& [key, value] : v.items()) {
    if (!value.is_string()) return wrong_type("metadata." + key, "a string", value);
    request.metadata.emplace_back(key, value.get<std::string>());
  }
  return {};
}

Status read_stream_options(const Json& v, ChatRequest& request) {
  if (v.is_null()) return {};
  if (!v.is_object()) return wrong_type("stream_options", "an object", v);
  if (auto it = v.find("include_usage"); it != v.end() && !it->is_null()) {
    if (!it->is_boolean()) return wrong_type("stream_options.include_usage", "a boolean", *it);
    request.include_usage = it->get<bool>();
  }
  return {};
}

// Members both chat and legacy completions share. Returns false if `key` is not one of them.
Result<bool> read_common(const std::string& key, const Json& v, ChatRequest& r) {
  Status s;
  if (key == "model") {
    s = read_string(v, "model", r.model);
  } else if (key == "temperature") {
    s = read_number(v, key, 0, 2, r.temperature);
  } else if (key == "top_p") {
    s = read_number(v, key, 0, 1, r.top_p);
  } else if (key == "presence_penalty") {
    s = read_number(v, key, -2, 2, r.presence_penalty);
  } else if (key == "frequency_penalty") {
    s = read_number(v, key, -2, 2, r.frequency_penalty);
  } else if (key == "max_tokens" || key == "max_completion_tokens") {
    std::optional<int64_t> value;
    s = read_int(v, key, 1, INT64_MAX, value);
    if (s && value) {
      // max_completion_tokens supersedes the deprecated max_tokens when both are given.
      if (!r.max_tokens || key == "max_completion_tokens") {
        r.max_tokens = value;
        r.max_tokens_is_completion = key == "max_completion_tokens";
      }
    }
  } else if (key == "stop") {
    s = read_stop(v, r.stop);
  } else if (key == "seed") {
    s = read_int(v, key, INT64_MIN, INT64_MAX, r.seed);
  } else if (key == "n") {
    s = read_int(v, key, 1, 128, r.n);
  } else if (key == "user") {
    if (!v.is_null()) s = read_string(v, key, r.user);
  } else if (key == "metadata") {
    s = read_metadata(v, r);
  } else if (key == "stream") {
    std::optional<bool> stream;
    s = read_bool(v, key, stream);
    r.stream = stream.value_or(false);
  } else if (key == "stream_options") {
    s = read_stream_options(v, r);
  } else {
    return false;
  }
  if (!s) return std::unexpected(s.error());
  return true;
}

Result<ContentPart> parse_part(const Json& part, const std::string& param) {
  if (!part.is_object()) return wrong_type(param, "an object", part);
  auto type = part.find("type");
  if (type == part.end() || !type->is_string()) {
    return invalid(param + ".type", "'" + param + ".type' must be a string");
  }
  ContentPart out;
  const auto& t = type->get_ref<const std::string&>();
  if (t == "text") {
    auto text = part.find("text");
    if (text == part.end()) return invalid(param + ".text", "'" + param + ".text' is required");
    if (auto s = read_string(*text, param + ".text", out.text); !s)
      return std::unexpected(s.error());
    out.kind = ContentPart::Kind::text;
  } else if (t == "image_url") {
    auto image = part.find("image_url");
    if (image == part.end() || !image->is_object()) {
      return invalid(param + ".image_url", "'" + param + ".image_url' must be an object");
    }
    auto url = image->find("url");
    if (url == image->end()) {
      return invalid(param + ".image_url.url", "'" + param + ".image_url.url' is required");
    }
    if (auto s = read_string(*url, param + ".image_url.url", out.url); !s) {
      return std::unexpected(s.error());
    }
    if (auto d = image->find("detail"); d != image->end() && !d->is_null()) {
      if (auto s = read_string(*d, param + ".image_url.detail", out.detail); !s) {
        return std::unexpected(s.error());
      }
    }
    out.kind = ContentPart::Kind::image_url;
  } else {
    out.kind = ContentPart::Kind::other;
    out.raw_json = detail::dump(part);
  }
  return out;
}

Status parse_content(const Json& v, const std::string& param, Message& m) {
  if (v.is_null()) {
    m.content_is_null = true;
    m.content_is_text = false;
    return {};
  }
  if (v.is_string()) {
    m.content.push_back(ContentPart{.kind = ContentPart::Kind::text, .text = v.get<std::string>()});
    m.content_is_text = true;
    return {};
  }
  if (!v.is_array()) return wrong_type(param, "a string or an array of content parts", v);
  m.content_is_text = false;
  for (size_t i = 0; i < v.size(); ++i) {
    auto part = parse_part(v[i], param + "[" + std::to_string(i) + "]");
    if (!part) return std::unexpected(part.error());
    m.content.push_back(std::move(*part));
  }
  return {};
}

Status parse_tool_calls(const Json& v, const std::string& param, Message& m) {
  if (v.is_null()) return {};
  if (!v.is_array()) return wrong_type(param, "an array", v);
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = param + "[" + std::to_string(i) + "]";
    const Json& call = v[i];
    if (!call.is_object()) return wrong_type(p, "an object", call);
    ToolCall out;
    if (auto id = call.find("id"); id != call.end()) {
      if (auto s = read_string(*id, p + ".id", out.id); !s) return s;
    }
    auto fn = call.find("function");
    if (fn == call.end() || !fn->is_object()) {
      return invalid(p + ".function", "'" + p + ".function' must be an object");
    }
    auto name = fn->find("name");
    if (name == fn->end())
      return invalid(p + ".function.name", "'" + p + ".function.name' is required");
    if (auto s = read_string(*name, p + ".function.name", out.name); !s) return s;
    if (auto args = fn->find("arguments"); args != fn->end() && !args->is_null()) {
      if (auto s = read_string(*args, p + ".function.arguments", out.arguments); !s) return s;
    }
    m.tool_calls.push_back(std::move(out));
  }
  return {};
}

Result<Role> parse_role(const Json& v, const std::string& param) {
  if (!v.is_string()) return wrong_type(param, "a string", v);
  const auto& s = v.get_ref<const std::string&>();
  if (s == "system") return Role::system;
  if (s == "developer") return Role::developer;
  if (s == "user") return Role::user;
  if (s == "assistant") return Role::assistant;
  if (s == "tool") return Role::tool;
  if (s == "function") {
    return invalid(param,
                   "role 'function' (the deprecated function-calling API) is not "
                   "supported; use tool_calls and role 'tool'");
  }
  return invalid(param, "'" + param + "' must be one of system, developer, user, assistant, tool");
}

Result<Message> parse_message(const Json& v, const std::string& param) {
  if (!v.is_object()) return wrong_type(param, "an object", v);
  Message m;
  auto role = v.find("role");
  if (role == v.end()) return invalid(param + ".role", "'" + param + ".role' is required");
  auto r = parse_role(*role, param + ".role");
  if (!r) return std::unexpected(r.error());
  m.role = *r;

  bool has_content = false;
  for (const auto& [key, value] : v.items()) {
    const std::string p = param + "." + key;
    Status s;
    if (key == "role") {
      continue;
    } else if (key == "content") {
      has_content = true;
      s = parse_content(value, p, m);
    } else if (key == "name") {
      if (!value.is_null()) s = read_string(value, p, m.name);
    } else if (key == "tool_calls" && m.role == Role::assistant) {
      s = parse_tool_calls(value, p, m);
    } else if (key == "tool_call_id" && m.role == Role::tool) {
      s = read_string(value, p, m.tool_call_id);
    } else if (key == "refusal" && m.role == Role::assistant) {
      if (!value.is_null()) s = read_string(value, p, m.refusal);
    } else if (key == "tool_calls" || key == "tool_call_id" || key == "refusal") {
      if (value.is_null()) continue;  // SDKs serialize unset fields as null on every role
      return invalid(
          p, "'" + key + "' is not allowed on a " + std::string(to_string(m.role)) + " message");
    } else {
      m.extra.push_back(JsonField{key, detail::dump(value)});
    }
    if (!s) return std::unexpected(s.error());
  }
  if (m.role == Role::assistant) {
    if (!has_content) {
      m.content_is_null = true;
      m.content_is_text = false;
    }
  } else if (!has_content || m.content_is_null) {
    return invalid(param + ".content", "'" + param + ".content' is required");
  }
  if (m.role == Role::tool && m.tool_call_id.empty()) {
    return invalid(param + ".tool_call_id", "'" + param + ".tool_call_id' is required");
  }
  return m;
}

Status parse_messages(const Json& v, ChatRequest& r) {
  if (!v.is_array()) return wrong_type("messages", "an array", v);
  if (v.empty()) return invalid("messages", "'messages' must contain at least one message");
  for (size_t i = 0; i < v.size(); ++i) {
    auto m = parse_message(v[i], "messages[" + std::to_string(i) + "]");
    if (!m) return std::unexpected(m.error());
    r.messages.push_back(std::move(*m));
  }
  return {};
}

Status parse_tools(const Json& v, ChatRequest& r) {
  if (v.is_null()) return {};
  if (!v.is_array()) return wrong_type("tools", "an array", v);
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = "tools[" + std::to_string(i) + "]";
    const Json& tool = v[i];
    if (!tool.is_object()) return wrong_type(p, "an object", tool);
    auto type = tool.find("type");
    if (type == tool.end() || *type != "function") {
      return invalid(p + ".type", "'" + p + ".type' must be 'function'");
    }
    auto fn = tool.find("function");
    if (fn == tool.end() || !fn->is_object()) {
      return invalid(p + ".function", "'" + p + ".function' must be an object");
    }
    Tool out;
    auto name = fn->find("name");
    if (name == fn->end())
      return invalid(p + ".function.name", "'" + p + ".function.name' is required");
    if (auto s = read_string(*name, p + ".function.name", out.name); !s) return s;
    if (out.name.empty())
      return invalid(p + ".function.name", "'" + p + ".function.name' is empty");
    if (auto d = fn->find("description"); d != fn->end() && !d->is_null()) {
      if (auto s = read_string(*d, p + ".function.description", out.description); !s) return s;
    }
    if (auto params = fn->find("parameters"); params != fn->end() && !params->is_null()) {
      if (!params->is_object()) return wrong_type(p + ".function.parameters", "an object", *params);
      out.parameters_json = detail::dump(*params);
    }
    if (auto strict = fn->find("strict"); strict != fn->end()) {
      if (auto s = read_bool(*strict, p + ".function.strict", out.strict); !s) return s;
    }
    r.tools.push_back(std::move(out));
  }
  return {};
}

Status parse_tool_choice(const Json& v, ChatRequest& r) {
  if (v.is_null()) return {};
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s == "none")
      r.tool_choice.mode = ToolChoice::Mode::none;
    else if (s == "auto")
      r.tool_choice.mode = ToolChoice::Mode::auto_;
    else if (s == "required")
      r.tool_choice.mode = ToolChoice::Mode::required;
    else
      return invalid("tool_choice", "'tool_choice' must be none, auto, required or an object");
    return {};
  }
  if (!v.is_object()) return wrong_type("tool_choice", "a string or an object", v);
  auto type = v.find("type");
  auto fn = v.find("function");
  if (type == v.end() || *type != "function" || fn == v.end() || !fn->is_object() ||
      !fn->contains("name") || !(*fn)["name"].is_string()) {
    return invalid(
        "tool_choice",
        "'tool_choice' object must be {\"type\":\"function\",\"function\":{\"name\":...}}");
  }
  r.tool_choice.mode = ToolChoice::Mode::function;
  r.tool_choice.function_name = (*fn)["name"].get<std::string>();
  return {};
}

Status parse_response_format(const Json& v, ChatRequest& r) {
  if (v.is_null()) return {};
  if (!v.is_object()) return wrong_type("response_format", "an object", v);
  auto type = v.find("type");
  if (type == v.end() || !type->is_string()) {
    return invalid("response_format.type", "'response_format.type' must be a string");
  }
  ResponseFormat& f = r.response_format;
  const auto& t = type->get_ref<const std::string&>();
  if (t == "text") {
    f.type = ResponseFormat::Type::text;
  } else if (t == "json_object") {
    f.type = ResponseFormat::Type::json_object;
  } else if (t == "json_schema") {
    f.type = ResponseFormat::Type::json_schema;
    auto js = v.find("json_schema");
    if (js == v.end() || !js->is_object()) {
      return invalid("response_format.json_schema",
                     "'response_format.json_schema' must be an object");
    }
    auto name = js->find("name");
    if (name == js->end()) {
      return invalid("response_format.json_schema.name",
                     "'response_format.json_schema.name' is required");
    }
    if (auto s = read_string(*name, "response_format.json_schema.name", f.schema_name); !s)
      return s;
    if (auto schema = js->find("schema"); schema != js->end() && !schema->is_null()) {
      if (!schema->is_object()) {
        return wrong_type("response_format.json_schema.schema", "an object", *schema);
      }
      f.schema_json = detail::dump(*schema);
    }
    if (auto strict = js->find("strict"); strict != js->end()) {
      if (auto s = read_bool(*strict, "response_format.json_schema.strict", f.strict); !s) return s;
    }
    if (auto d = js->find("description"); d != js->end() && !d->is_null()) {
      if (auto s = read_string(*d, "response_format.json_schema.description", f.description); !s) {
        return s;
      }
    }
  } else {
    return invalid("response_format.type",
                   "'response_format.type' must be text, json_object or json_schema");
  }
  return {};
}

}  // namespace

Result<ChatRequest> parse_chat_request(std::string_view body, const ParseLimits& limits) {
  if (auto fast = detail::parse_chat_request_fast(body, limits.max_depth)) return std::move(*fast);
  return detail::parse_chat_request_dom(body, limits.max_depth);
}

Result<ChatRequest> detail::parse_chat_request_dom(std::string_view body, size_t max_depth) {
  const ParseLimits limits{.max_depth = max_depth};
  auto root = parse_root(body, limits);
  if (!root) return std::unexpected(root.error());
  ChatRequest r;
  r.surface = ApiSurface::chat_completions;
  bool has_model = false;
  bool has_messages = false;
  for (const auto& [key, value] : root->items()) {
    auto common = read_common(key, value, r);
    if (!common) return std::unexpected(common.error());
    if (*common) {
      has_model = has_model || key == "model";
      continue;
    }
    Status s;
    if (key == "messages") {
      has_messages = true;
      s = parse_messages(value, r);
    } else if (key == "tools") {
      s = parse_tools(value, r);
    } else if (key == "tool_choice") {
      s = parse_tool_choice(value, r);
    } else if (key == "parallel_tool_calls") {
      s = read_bool(value, key, r.parallel_tool_calls);
    } else if (key == "response_format") {
      s = parse_response_format(value, r);
    } else if (key == "logprobs") {
      s = read_bool(value, key, r.logprobs);
    } else if (key == "top_logprobs") {
      s = read_int(value, key, 0, 20, r.top_logprobs);
    } else {
      r.extra.push_back(JsonField{key, detail::dump(value)});
    }
    if (!s) return std::unexpected(s.error());
  }
  if (!has_model || r.model.empty()) return invalid("model", "'model' is required");
  if (!has_messages) return invalid("messages", "'messages' is required");
  return r;
}

Result<ChatRequest> parse_completion_request(std::string_view body, const ParseLimits& limits) {
  auto root = parse_root(body, limits);
  if (!root) return std::unexpected(root.error());
  ChatRequest r;
  r.surface = ApiSurface::completions;
  bool has_prompt = false;
  for (const auto& [key, value] : root->items()) {
    auto common = read_common(key, value, r);
    if (!common) return std::unexpected(common.error());
    if (*common) continue;
    Status s;
    if (key == "prompt") {
      has_prompt = true;
      if (value.is_string()) {
        r.prompt = value.get<std::string>();
      } else if (value.is_array() && value.size() == 1 && value[0].is_string()) {
        r.prompt = value[0].get<std::string>();
      } else {
        s = invalid("prompt", "'prompt' must be a string or an array of one string");
      }
    } else if (key == "logprobs") {
      // Legacy logprobs is the number of alternatives per token (0..5).
      std::optional<int> n;
      s = read_int(value, key, 0, 5, n);
      if (s && n) {
        r.logprobs = true;
        r.top_logprobs = n;
      }
    } else {
      r.extra.push_back(JsonField{key, detail::dump(value)});
    }
    if (!s) return std::unexpected(s.error());
  }
  if (r.model.empty()) return invalid("model", "'model' is required");
  if (!has_prompt) return invalid("prompt", "'prompt' is required");
  return r;
}

}  // namespace sy::backends::openai
