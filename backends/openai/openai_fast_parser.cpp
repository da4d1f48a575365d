// The fast paths of parse_chat_request, parse_chat_response and parse_chunk (see the header).
// Each function mirrors its DOM twin in openai_request_parser.cpp / openai_response_parser.cpp
// member by member; where the DOM would answer an error, or keep re-serialized JSON, the fast
// path gives up (returns nullopt) and the DOM runs.

#include "openai_fast_parser.h"

#include <climits>
#include <cstdint>
#include <string>

#include "json_reader.h"
#include "json_support.h"

namespace sy::backends::openai::detail {

namespace {

using Type = JsonReader::Type;

// One bit per known member of an object. A member given twice goes to the DOM, whose handling
// of duplicates (the last value, at the first one's position) the fast paths do not mirror.
class Seen {
 public:
  bool first(int bit) {
    const uint32_t mask = 1u << bit;
    if (bits_ & mask) return false;
    bits_ |= mask;
    return true;
  }

 private:
  uint32_t bits_ = 0;
};

// --- answers ----------------------------------------------------------------------------

// string_or_empty(): a string member's value; any other value leaves `out` empty.
bool string_or_skip(JsonReader& r, std::string& out) {
  if (r.peek() == Type::string) return r.read_string(out);
  return r.skip_value();
}

// int_or(): an integer member's value; any other value keeps the fallback in `out`.
bool int_or_keep(JsonReader& r, int& out) {
  if (r.peek() != Type::number) return r.skip_value();
  bool integer = false;
  int64_t i = 0;
  double d = 0;
  if (!r.read_number(integer, i, d)) return false;
  if (!integer) return true;
  if (i < INT_MIN || i > INT_MAX) return r.fail();  // the DOM would truncate: leave it that
  out = static_cast<int>(i);
  return true;
}

// A token count (int_member() of json_support.cpp): a number, else 0.
bool token_count(JsonReader& r, int64_t& out) {
  if (r.peek() != Type::number) return r.skip_value();
  bool integer = false;
  int64_t i = 0;
  double d = 0;
  if (!r.read_number(integer, i, d)) return false;
  if (integer) {
    out = i;
    return true;
  }
  if (!(d > -9.0e18 && d < 9.0e18)) return r.fail();
  out = static_cast<int64_t>(d);
  return true;
}

// The one member of a *_tokens_details object that is read.
bool details_count(JsonReader& r, std::string_view member, int64_t& out) {
  if (r.peek() != Type::object) return r.skip_value();
  if (!r.begin_object()) return false;
  Seen seen;
  std::string_view key;
  while (r.next_member(key)) {
    if (key == member) {
      if (!seen.first(0) || !token_count(r, out)) return r.fail();
    } else if (!r.skip_value()) {
      return false;
    }
  }
  return !r.failed();
}

// parse_usage(); a usage that is not an object leaves `out` untouched (the DOM ignores it).
bool usage_or_skip(JsonReader& r, Usage& out) {
  if (r.peek() != Type::object) return r.skip_value();
  if (!r.begin_object()) return false;
  Usage u;
  Seen seen;
  std::string_view key;
  while (r.next_member(key)) {
    bool ok = true;
    if (key == "prompt_tokens") {
      ok = seen.first(0) && token_count(r, u.prompt_tokens);
    } else if (key == "completion_tokens") {
      ok = seen.first(1) && token_count(r, u.completion_tokens);
    } else if (key == "prompt_tokens_details") {
      ok = seen.first(2) && details_count(r, "cached_tokens", u.cached_tokens);
    } else if (key == "completion_tokens_details") {
      ok = seen.first(3) && details_count(r, "reasoning_tokens", u.reasoning_tokens);
    } else {
      ok = r.skip_value();
    }
    if (!ok) return r.fail();
  }
  if (r.failed()) return false;
  out = u;
  return true;
}

// parse_finish_reason(): a string maps, anything else is none.
bool finish_reason(JsonReader& r, FinishReason& out) {
  if (r.peek() != Type::string) {
    out = FinishReason::none;
    return r.skip_value();
  }
  std::string text;
  if (!r.read_string(text)) return false;
  out = parse_finish_reason(std::string_view(text));
  return true;
}

// A "function" member of a tool call: its name and arguments when it is an object.
bool function_or_skip(JsonReader& r, std::string& name, std::string& arguments) {
  if (r.peek() != Type::object) return r.skip_value();
  if (!r.begin_object()) return false;
  Seen seen;
  std::string_view key;
  while (r.next_member(key)) {
    bool ok = true;
    if (key == "name") {
      ok = seen.first(0) && string_or_skip(r, name);
    } else if (key == "arguments") {
      ok = seen.first(1) && string_or_skip(r, arguments);
    } else {
      ok = r.skip_value();
    }
    if (!ok) return r.fail();
  }
  return !r.failed();
}

// parse_tool_calls() of the response parser: null is none, else an array of objects.
bool answer_tool_calls(JsonReader& r, std::vector<ToolCall>& out) {
  if (r.peek() == Type::null) return r.read_null();
  if (!r.begin_array()) return false;
  while (r.next_element()) {
    if (r.peek() != Type::object || !r.begin_object()) return r.fail();
    ToolCall call;
    Seen seen;
    std::string_view key;
    while (r.next_member(key)) {
      bool ok = true;
      if (key == "id") {
        ok = seen.first(0) && string_or_skip(r, call.id);
      } else if (key == "function") {
        ok = seen.first(1) && function_or_skip(r, call.name, call.arguments);
      } else {
        ok = r.skip_value();
      }
      if (!ok) return r.fail();
    }
    if (r.failed()) return false;
    out.push_back(std::move(call));
  }
  return !r.failed();
}

// A choice's "message" object (parse_choice() after the text_completion check).
bool answer_message(JsonReader& r, Message& m) {
  if (!r.begin_object()) return false;
  Seen seen;
  bool has_content = false;
  std::string_view key;
  while (r.next_member(key)) {
    bool ok = true;
    if (key == "content") {
      ok = seen.first(0);
      has_content = true;
      if (ok && r.peek() == Type::null) {
        ok = r.read_null();
        has_content = false;
      } else if (ok) {
        std::string text;
        ok = r.read_string(text);  // anything but a string or null is the DOM's error
        m.content.push_back(ContentPart{.text = std::move(text)});
      }
    } else if (key == "refusal") {
      ok = seen.first(1) && string_or_skip(r, m.refusal);
    } else if (key == "tool_calls") {
      ok = seen.first(2) && answer_tool_calls(r, m.tool_calls);
    } else {
      ok = r.skip_value();
    }
    if (!ok) return r.fail();
  }
  if (r.failed()) return false;
  if (!has_content) {
    m.content_is_null = true;
    m.content_is_text = false;
  }
  return true;
}

bool answer_choice(JsonReader& r, size_t position, Choice& out) {
  if (r.peek() != Type::object || !r.begin_object()) return r.fail();
  out.index = static_cast<int>(position);
  out.finish_reason = FinishReason::none;
  Message& m = out.message;
  m.role = Role::assistant;
  Seen seen;
  bool has_text = false;
  bool has_message = false;
  std::string text;
  std::string_view key;
  while (r.next_member(key)) {
    bool ok = true;
    if (key == "index") {
      ok = seen.first(0) && int_or_keep(r, out.index);
    } else if (key == "finish_reason") {
      ok = seen.first(1) && finish_reason(r, out.finish_reason);
    } else if (key == "text") {
      ok = seen.first(2);
      if (ok && r.peek() == Type::string) {
        has_text = true;
        ok = r.read_string(text);
      } else if (ok) {
        ok = r.skip_value();
      }
    } else if (key == "message") {
      // Read even when "text" wins: the DOM ignores it then, but it must be an object for the
      // fast path to know (a text_completion with an odd "message" goes to the DOM).
      ok = seen.first(3) && r.peek() == Type::object && answer_message(r, m);
      has_message = ok;
    } else {
      ok = r.skip_value();
    }
    if (!ok) return r.fail();
  }
  if (r.failed()) return false;
  if (out.finish_reason == FinishReason::none) out.finish_reason = FinishReason::stop;
  if (has_text) {
    // A text_completion choice: the message (if any) is ignored.
    m = Message{};
    m.role = Role::assistant;
    m.content.push_back(ContentPart{.text = std::move(text)});
    return true;
  }
  return has_message ? true : r.fail();  // no message: the DOM's error
}

// --- requests ---------------------------------------------------------------------------

// The value ranges parse_chat_request enforces; out of range is the DOM's error.
bool optional_number(JsonReader& r, double lo, double hi, std::optional<double>& out) {
  if (r.peek() == Type::null) return r.read_null();
  double d = 0;
  if (!r.read_double(d)) return false;
  if (d < lo || d > hi) return r.fail();
  out = d;
  return true;
}

template <class Int>
bool optional_int(JsonReader& r, int64_t lo, int64_t hi, std::optional<Int>& out) {
  if (r.peek() == Type::null) return r.read_null();
  int64_t i = 0;
  if (!r.read_int(i)) return false;
  if (i < lo || i > hi) return r.fail();
  out = static_cast<Int>(i);
  return true;
}

bool optional_bool(JsonReader& r, std::optional<bool>& out) {
  if (r.peek() == Type::null) return r.read_null();
  bool b = false;
  if (!r.read_bool(b)) return false;
  out = b;
  return true;
}

bool nullable_string(JsonReader& r, std::string& out) {
  if (r.peek() == Type::null) return r.read_null();
  return r.read_string(out);
}

bool stop_sequences(JsonReader& r, std::vector<std::string>& out) {
  switch (r.peek()) {
    case Type::null:
      return r.read_null();
    case Type::string:
      out.emplace_back();
      return r.read_string(out.back());
    case Type::array:
      if (!r.begin_array()) return false;
      while (r.next_element()) {
        out.emplace_back();
        if (!r.read_string(out.back())) return false;
      }
      return !r.failed();
    default:
      return r.fail();
  }
}

bool metadata(JsonReader& r, std::vector<std::pair<std::string, std::string>>& out) {
  if (r.peek() == Type::null) return r.read_null();
  if (!r.begin_object()) return false;
  std::string_view key;
  while (r.next_member(key)) {
    for (const auto& [seen, value] : out) {
      if (seen == key) return r.fail();
    }
    out.emplace_back(std::string(key), std::string());
    if (!r.read_string(out.back().second)) return false;
  }
  return !r.failed();
}

bool stream_options(JsonReader& r, bool& include_usage) {
  if (r.peek() == Type::null) return r.read_null();
  if (!r.begin_object()) return false;
  Seen seen;
  std::string_view key;
  while (r.next_member(key)) {
    bool ok = true;
    if (key == "include_usage") {
      ok = seen.first(0);
      if (ok && r.peek() == Type::null) {
        ok = r.read_null();
      } else if (ok) {
        ok = r.read_bool(include_usage);
      }
    } else {
      ok = r.skip_value();
    }
    if (!ok) return r.fail();
  }
  return !r.failed();
}

// "none", "auto" or "required"; the object form goes to the DOM.
bool tool_choice(JsonReader& r, ToolChoice& out) {
  if (r.peek() == Type::null) return r.read_null();
  std::string mode;
  if (!r.read_string(mode)) return false;
  if (mode == "none") {
    out.mode = ToolChoice::Mode::none;
  } else if (mode == "auto") {
    out.mode = ToolChoice::Mode::auto_;
  } else if (mode == "required") {
    out.mode = ToolChoice::Mode::required;
  } else {
    return r.fail();
  }
  return true;
}

// {"type":"text"} or {"type":"json_object"}; a JSON schema goes to the DOM.
bool response_format(JsonReader& r, ResponseFormat& out) {
  if (r.peek() == Type::null) return r.read_null();
  if (!r.begin_object()) return false;
  Seen seen;
  std::string type;
  bool has_type = false;
  std::string_view key;
  while (r.next_member(key)) {
    bool ok = true;
    if (key == "type") {
      ok = seen.first(0) && r.read_string(type);
      has_type = true;
    } else {
      ok = r.skip_value();
    }
    if (!ok) return r.fail();
  }
  if (r.failed() || !has_type) return r.fail();
  if (type == "text") {
    out.type = ResponseFormat::Type::text;
  } else if (type == "json_object") {
    out.type = ResponseFormat::Type::json_object;
  } else {
    return r.fail();
  }
  return true;
}

bool role(JsonReader& r, Role& out) {
  std::string s;
  if (!r.read_string(s)) return false;
  if (s == "system") {
    out = Role::system;
  } else if (s == "developer") {
    out = Role::developer;
  } else if (s == "user") {
    out = Role::user;
  } else if (s == "assistant") {
    out = Role::assistant;
  } else if (s == "tool") {
    out = Role::tool;
  } else {
    return r.fail();
  }
  return true;
}

// A text or image_url part (parse_part()); other part types keep their raw JSON: the DOM's.
bool content_part(JsonReader& r, ContentPart& out) {
  if (r.peek() != Type::object || !r.begin_object()) return r.fail();
  Seen seen;
  std::string type;
  bool has_type = false;
  bool has_text = false;     // "text" is a string
  bool has_image = false;    // "image_url" is an object with a string "url"
  bool detail_valid = true;  // "detail" of it is absent, null or a string
  std::string_view key;
  while (r.next_member(key)) {
    bool ok = true;
    if (key == "type") {
      ok = seen.first(0) && r.peek() == Type::string && r.read_string(type);
      has_type = true;
    } else if (key == "text") {
      ok = seen.first(1);
      if (ok && r.peek() == Type::string) {
        has_text = r.read_string(out.text);
        ok = has_text;
      } else if (ok) {
        ok = r.skip_value();
      }
    } else if (key == "image_url") {
      ok = seen.first(2);
      if (ok && r.peek() == Type::object && r.begin_object()) {
        Seen inner;
        std::string_view image_key;
        while (ok && r.next_member(image_key)) {
          if (image_key == "url") {
            ok = inner.first(0);
            if (ok && r.peek() == Type::string) {
              has_image = r.read_string(out.url);
              ok = has_image;
            } else if (ok) {
              ok = r.skip_value();
            }
          } else if (image_key == "detail") {
            ok = inner.first(1);
            if (ok && r.peek() == Type::null) {
              ok = r.read_null();
            } else if (ok && r.peek() == Type::string) {
              ok = r.read_string(out.detail);
            } else if (ok) {
              detail_valid = false;
              ok = r.skip_value();
            }
          } else {
            ok = r.skip_value();
          }
        }
        ok = ok && !r.failed();
      } else if (ok) {
        ok = r.skip_value();
      }
    } else {
      ok = r.skip_value();
    }
    if (!ok) return r.fail();
  }
  if (r.failed() || !has_type) return r.fail();
  if (type == "text") {
    if (!has_text) return r.fail();
    out.kind = ContentPart::Kind::text;
    out.url.clear();
    out.detail.clear();
    return true;
  }
  if (type == "image_url") {
    if (!has_image || !detail_valid) return r.fail();
    out.kind = ContentPart::Kind::image_url;
    out.text.clear();
    return true;
  }
  return r.fail();
}

bool content(JsonReader& r, Message& m) {
  switch (r.peek()) {
    case Type::null:
      m.content_is_null = true;
      m.content_is_text = false;
      return r.read_null();
    case Type::string:
      m.content.push_back(ContentPart{.kind = ContentPart::Kind::text});
      m.content_is_text = true;
      return r.read_string(m.content.back().text);
    case Type::array:
      m.content_is_text = false;
      if (!r.begin_array()) return false;
      while (r.next_element()) {
        m.content.emplace_back();
        if (!content_part(r, m.content.back())) return false;
      }
      return !r.failed();
    default:
      return r.fail();
  }
}

// parse_tool_calls() of the request parser: every call an object with a string "id" (if
// given) and a "function" object naming the function.
bool request_tool_calls(JsonReader& r, std::vector<ToolCall>& out) {
  if (!r.begin_array()) return false;
  while (r.next_element()) {
    if (r.peek() != Type::object || !r.begin_object()) return r.fail();
    ToolCall call;
    Seen seen;
    bool has_name = false;
    std::string_view key;
    while (r.next_member(key)) {
      bool ok = true;
      if (key == "id") {
        ok = seen.first(0) && r.read_string(call.id);
      } else if (key == "function") {
        ok = seen.first(1) && r.peek() == Type::object && r.begin_object();
        Seen inner;
        std::string_view fn_key;
        while (ok && r.next_member(fn_key)) {
          if (fn_key == "name") {
            ok = inner.first(0) && r.read_string(call.name);
            has_name = ok;
          } else if (fn_key == "arguments") {
            ok = inner.first(1) && nullable_string(r, call.arguments);
          } else {
            ok = r.skip_value();
          }
        }
        ok = ok && !r.failed();
      } else {
        ok = r.skip_value();
      }
      if (!ok) return r.fail();
    }
    if (r.failed() || !has_name) return r.fail();
    out.push_back(std::move(call));
  }
  return !r.failed();
}

bool message(JsonReader& r, Message& m) {
  if (r.peek() != Type::object || !r.begin_object()) return r.fail();
  Seen seen;
  bool has_role = false;
  bool has_content = false;
  // Members whose meaning depends on the role, which may come after them.
  bool tool_calls_given = false;  // non-null
  bool tool_call_id_given = false;
  bool refusal_given = false;
  std::vector<ToolCall> tool_calls;
  std::string tool_call_id;
  std::string refusal;
  std::string_view key;
  while (r.next_member(key)) {
    bool ok = true;
    if (key == "role") {
      ok = seen.first(0) && role(r, m.role);
      has_role = true;
    } else if (key == "content") {
      ok = seen.first(1) && content(r, m);
      has_content = true;
    } else if (key == "name") {
      ok = seen.first(2) && nullable_string(r, m.name);
    } else if (key == "tool_calls") {
      ok = seen.first(3);
      if (ok && r.peek() == Type::null) {
        ok = r.read_null();
      } else if (ok) {
        tool_calls_given = true;
        ok = request_tool_calls(r, tool_calls);
      }
    } else if (key == "tool_call_id") {
      ok = seen.first(4);
      if (ok && r.peek() == Type::null) {
        ok = r.read_null();
      } else if (ok) {
        tool_call_id_given = true;
        ok = r.read_string(tool_call_id);
      }
    } else if (key == "refusal") {
      ok = seen.first(5);
      if (ok && r.peek() == Type::null) {
        ok = r.read_null();
      } else if (ok) {
        refusal_given = true;
        ok = r.read_string(refusal);
      }
    } else {
      ok = false;  // an unknown member is kept as raw JSON: the DOM's job
    }
    if (!ok) return r.fail();
  }
  if (r.failed() || !has_role) return r.fail();
  const bool assistant = m.role == Role::assistant;
  const bool tool = m.role == Role::tool;
  // A null one is allowed on every role (SDKs send unset fields as null); a value only on its own.
  if ((tool_calls_given && !assistant) || (refusal_given && !assistant) ||
      (tool_call_id_given && !tool)) {
    return r.fail();
  }
  m.tool_calls = std::move(tool_calls);
  m.tool_call_id = std::move(tool_call_id);
  m.refusal = std::move(refusal);
  if (assistant) {
    if (!has_content) {
      m.content_is_null = true;
      m.content_is_text = false;
    }
  } else if (!has_content || m.content_is_null) {
    return r.fail();
  }
  if (tool && m.tool_call_id.empty()) return r.fail();
  return true;
}

bool messages(JsonReader& r, std::vector<Message>& out) {
  if (!r.begin_array()) return false;
  while (r.next_element()) {
    out.emplace_back();
    if (!message(r, out.back())) return false;
  }
  if (r.failed() || out.empty()) return r.fail();
  return true;
}

}  // namespace

std::optional<ChatRequest> parse_chat_request_fast(std::string_view body, size_t max_depth) {
  JsonReader r(body, max_depth);
  if (r.peek() != Type::object || !r.begin_object()) return std::nullopt;
  ChatRequest out;
  out.surface = ApiSurface::chat_completions;
  Seen seen;
  bool has_messages = false;
  std::string_view key;
  while (r.next_member(key)) {
    bool ok = true;
    if (key == "model") {
      ok = seen.first(0) && r.read_string(out.model);
    } else if (key == "messages") {
      ok = seen.first(1) && messages(r, out.messages);
      has_messages = true;
    } else if (key == "temperature") {
      ok = seen.first(2) && optional_number(r, 0, 2, out.temperature);
    } else if (key == "top_p") {
      ok = seen.first(3) && optional_number(r, 0, 1, out.top_p);
    } else if (key == "presence_penalty") {
      ok = seen.first(4) && optional_number(r, -2, 2, out.presence_penalty);
    } else if (key == "frequency_penalty") {
      ok = seen.first(5) && optional_number(r, -2, 2, out.frequency_penalty);
    } else if (key == "max_tokens" || key == "max_completion_tokens") {
      const bool completion = key == "max_completion_tokens";
      std::optional<int64_t> value;
      ok = seen.first(completion ? 6 : 7) && optional_int(r, 1, INT64_MAX, value);
      // max_completion_tokens supersedes the deprecated max_tokens when both are given.
      if (ok && value && (!out.max_tokens || completion)) {
        out.max_tokens = value;
        out.max_tokens_is_completion = completion;
      }
    } else if (key == "stop") {
      ok = seen.first(8) && stop_sequences(r, out.stop);
    } else if (key == "seed") {
      ok = seen.first(9) && optional_int(r, INT64_MIN, INT64_MAX, out.seed);
    } else if (key == "n") {
      ok = seen.first(10) && optional_int(r, 1, 128, out.n);
    } else if (key == "user") {
      ok = seen.first(11) && nullable_string(r, out.user);
    } else if (key == "metadata") {
      ok = seen.first(12) && metadata(r, out.metadata);
    } else if (key == "stream") {
      std::optional<bool> stream;
      ok = seen.first(13) && optional_bool(r, stream);
      out.stream = stream.value_or(false);
    } else if (key == "stream_options") {
      ok = seen.first(14) && stream_options(r, out.include_usage);
    } else if (key == "tools") {
      ok = seen.first(15) && r.read_null();  // tools keep their schemas as JSON: the DOM's job
    } else if (key == "tool_choice") {
      ok = seen.first(16) && tool_choice(r, out.tool_choice);
    } else if (key == "parallel_tool_calls") {
      ok = seen.first(17) && optional_bool(r, out.parallel_tool_calls);
    } else if (key == "response_format") {
      ok = seen.first(18) && response_format(r, out.response_format);
    } else if (key == "logprobs") {
      ok = seen.first(19) && optional_bool(r, out.logprobs);
    } else if (key == "top_logprobs") {
      ok = seen.first(20) && optional_int(r, 0, 20, out.top_logprobs);
    } else {
      ok = false;  // passthrough members are kept as re-serialized JSON: the DOM's job
    }
    if (!ok) return std::nullopt;
  }
  if (!r.at_end() || out.model.empty() || !has_messages) return std::nullopt;
  return out;
}

std::optional<ChatResponse> parse_chat_response_fast(std::string_view body, size_t max_depth) {
  JsonReader r(body, max_depth);
  if (r.peek() != Type::object || !r.begin_object()) return std::nullopt;
  ChatResponse out;
  Seen seen;
  bool has_choices = false;
  std::string_view key;
  while (r.next_member(key)) {
    bool ok = true;
    if (key == "choices") {
      ok = seen.first(0) && r.peek() == Type::array && r.begin_array();
      has_choices = true;
      while (ok && r.next_element()) {
        out.choices.emplace_back();
        ok = answer_choice(r, out.choices.size() - 1, out.choices.back());
      }
      ok = ok && !r.failed();
    } else if (key == "id") {
      ok = seen.first(1) && string_or_skip(r, out.id);
    } else if (key == "model") {
      ok = seen.first(2) && string_or_skip(r, out.model);
    } else if (key == "system_fingerprint") {
      ok = seen.first(3) && string_or_skip(r, out.system_fingerprint);
    } else if (key == "created") {
      ok = seen.first(4);
      if (ok && r.peek() == Type::number) {
        bool integer = false;
        int64_t i = 0;
        double d = 0;
        ok = r.read_number(integer, i, d);
        if (ok && integer) out.created = i;
      } else if (ok) {
        ok = r.skip_value();
      }
    } else if (key == "usage") {
      ok = seen.first(5) && usage_or_skip(r, out.usage);
    } else if (key == "error") {
      ok = seen.first(6) && r.read_null();  // an error body is the DOM's to read
    } else {
      ok = r.skip_value();
    }
    if (!ok) return std::nullopt;
  }
  if (!r.at_end() || !has_choices) return std::nullopt;
  return out;
}

std::optional<std::vector<ChatChunk>> parse_chunk_fast(std::string_view data, size_t max_depth) {
  JsonReader r(data, max_depth);
  if (r.peek() != Type::object || !r.begin_object()) return std::nullopt;
  std::vector<ChatChunk> out;
  std::string model;
  std::optional<Usage> usage;
  Seen seen;
  std::string_view key;
  while (r.next_member(key)) {
    bool ok = true;
    if (key == "choices") {
      ok = seen.first(0);
      if (ok && r.peek() == Type::null) {
        ok = r.read_null();
      } else if (ok) {
        ok = r.peek() == Type::array && r.begin_array();
        size_t position = 0;
        while (ok && r.next_element()) {
          ChatChunk chunk;
          ok = false;
          if (r.peek() != Type::object || !r.begin_object()) break;
          chunk.choice_index = static_cast<int>(position++);
          Seen in_choice;
          bool has_text = false;
          std::string text;
          // The delta's members, applied unless "text" makes it a text_completion chunk.
          ChatChunk delta;
          std::string_view choice_key;
          ok = true;
          while (ok && r.next_member(choice_key)) {
            if (choice_key == "index") {
              ok = in_choice.first(0) && int_or_keep(r, chunk.choice_index);
            } else if (choice_key == "finish_reason") {
              ok = in_choice.first(1) && finish_reason(r, chunk.finish_reason);
            } else if (choice_key == "text") {
              ok = in_choice.first(2);
              if (ok && r.peek() == Type::string) {
                has_text = true;
                ok = r.read_string(text);
              } else if (ok) {
                ok = r.skip_value();
              }
            } else if (choice_key == "delta") {
              ok = in_choice.first(3);
              if (!ok || r.peek() == Type::null) {
                ok = ok && r.read_null();
                continue;
              }
              ok = r.peek() == Type::object && r.begin_object();
              Seen in_delta;
              std::string_view delta_key;
              while (ok && r.next_member(delta_key)) {
                if (delta_key == "role") {
                  std::string role_text;
                  ok = in_delta.first(0) && string_or_skip(r, role_text);
                  if (role_text == "assistant") delta.role = Role::assistant;
                } else if (delta_key == "content") {
                  ok = in_delta.first(1) && string_or_skip(r, delta.content);
                } else if (delta_key == "refusal") {
                  ok = in_delta.first(2) && string_or_skip(r, delta.refusal);
                } else if (delta_key == "tool_calls") {
                  ok = in_delta.first(3);
                  if (ok && r.peek() == Type::null) {
                    ok = r.read_null();
                    continue;
                  }
                  ok = ok && r.peek() == Type::array && r.begin_array();
                  int call_position = 0;
                  while (ok && r.next_element()) {
                    ToolCallDelta call{.index = call_position++};
                    ok = r.peek() == Type::object && r.begin_object();
                    Seen in_call;
                    std::string_view call_key;
                    while (ok && r.next_member(call_key)) {
                      if (call_key == "index") {
                        ok = in_call.first(0) && int_or_keep(r, call.index);
                      } else if (call_key == "id") {
                        ok = in_call.first(1) && string_or_skip(r, call.id);
                      } else if (call_key == "function") {
                        ok = in_call.first(2) && function_or_skip(r, call.name, call.arguments);
                      } else {
                        ok = r.skip_value();
                      }
                    }
                    ok = ok && !r.failed();
                    if (ok) delta.tool_calls.push_back(std::move(call));
                  }
                  ok = ok && !r.failed();
                } else {
                  ok = r.skip_value();
                }
              }
              ok = ok && !r.failed();
            } else {
              ok = r.skip_value();
            }
          }
          ok = ok && !r.failed();
          if (!ok) break;
          if (has_text) {
            chunk.content = std::move(text);
          } else {
            chunk.role = delta.role;
            chunk.content = std::move(delta.content);
            chunk.refusal = std::move(delta.refusal);
            chunk.tool_calls = std::move(delta.tool_calls);
          }
          // An empty delta (keep-alive, logprobs only) says nothing.
          if (!chunk.role && !chunk.has_content() && chunk.finish_reason == FinishReason::none) {
            continue;
          }
          out.push_back(std::move(chunk));
        }
        ok = ok && !r.failed();
      }
    } else if (key == "model") {
      ok = seen.first(1) && string_or_skip(r, model);
    } else if (key == "usage") {
      ok = seen.first(2);
      if (ok && r.peek() == Type::object) {
        usage.emplace();
        ok = usage_or_skip(r, *usage);
      } else if (ok) {
        ok = r.skip_value();
      }
    } else if (key == "error") {
      ok = seen.first(3) && r.read_null();  // an error event is the DOM's to read
    } else {
      ok = r.skip_value();
    }
    if (!ok) return std::nullopt;
  }
  if (!r.at_end()) return std::nullopt;
  for (ChatChunk& chunk : out) chunk.model = model;
  if (usage) {
    ChatChunk chunk;
    chunk.usage = *usage;
    chunk.model = model;
    out.push_back(std::move(chunk));
  }
  return out;
}

}  // namespace sy::backends::openai::detail
