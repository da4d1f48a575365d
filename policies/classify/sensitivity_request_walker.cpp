// SensitivityClassifier::classify_request: walk the whole request body — every string and
// member name, wherever it is — rather than pick known fields, so that nothing passed through
// to a vendor escapes the scan. Unscannable parts are findings; labels only raise.

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "switchyard/policies/classify/sensitivity_classifier.h"

#include "switchyard/backends/chat.h"
#include "switchyard/backends/openai_json.h"

#include "classify/sensitivity/json_spans.h"

namespace sy::policies {

namespace {

using json = nlohmann::json;

// Content-part types that carry bytes we cannot scan (OpenAI, Anthropic, Responses API).
constexpr std::string_view kNonTextPartTypes[] = {
    "image_url",  "image",    "input_image", "input_audio", "audio",    "file",
    "input_file", "document", "image_file",  "video",       "video_url"};
// Gemini's members for inline or referenced media.
constexpr std::string_view kMediaMembers[] = {"inline_data", "inlineData", "file_data", "fileData"};

bool in(std::string_view s, std::span<const std::string_view> set) {
  for (std::string_view x : set) {
    if (x == s) return true;
  }
  return false;
}

std::string escape_pointer_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out.push_back(c);
  }
  return out;
}

bool is_base64_data_url(std::string_view s) {
  return s.starts_with("data:") && s.substr(0, 256).find(";base64,") != std::string_view::npos;
}

// nlohmann::json::parse of `text` (discarded when it is not JSON), with the first member name
// some object repeats in `repeated` (nlohmann keeps a repeated name's last value only, so a
// walk of the result never sees the others).
json parse_noting_repeats(std::string_view text, std::optional<std::string>& repeated) {
  repeated.reset();
  std::vector<std::unordered_set<std::string>> names;  // (open object) its names so far
  return json::parse(
      text,
      [&](int, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) {
          names.emplace_back();
        } else if (event == json::parse_event_t::object_end) {
          names.pop_back();
        } else if (event == json::parse_event_t::key && !names.empty()) {
          const auto& name = parsed.get_ref<const std::string&>();
          if (!names.back().insert(name).second && !repeated) repeated = name;
        }
        return true;
      },
      /*allow_exceptions=*/false);
}

// A body that repeats a member name is refused, not scanned: a backend that reads it keeps
// either value (parsers differ), and what it may read has to have been scanned. The name is
// quoted only when it is a plain identifier: names are scanned like values and may be data.
SensitivityError repeated_member(std::string_view name) {
  const bool plain =
      !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
      });
  return SensitivityError{"request body repeats the member name " +
                          (plain ? "\"" + std::string(name) + "\"" : std::string("(not shown)")) +
                          " in one object; send each member once"};
}

bool looks_like_escaped_json(std::string_view s) {
  size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || (s[first] != '{' && s[first] != '[')) return false;
  return s.find('\\') != std::string_view::npos;
}

class Walker {
 public:
  Walker(const SensitivityClassifier& classifier, std::vector<Finding>& out)
      : classifier_(classifier), config_(classifier.config()), out_(out) {}

  void walk(const json& value, std::string& path, size_t depth) {
    if (depth > config_.max_json_depth) {
      unscannable("nesting_limit", path);
      return;
    }
    switch (value.type()) {
      case json::value_t::object:
        walk_object(value, path, depth);
        break;
      case json::value_t::array: {
        size_t i = 0;
        for (const json& element : value) {
          size_t mark = path.size();
          path += '/';
          path += std::to_string(i++);
          walk(element, path, depth + 1);
          path.resize(mark);
        }
        break;
      }
      case json::value_t::string:
        walk_string(value.get_ref<const std::string&>(), path, depth);
        break;
      case json::value_t::number_integer:
      case json::value_t::number_unsigned:
      case json::value_t::number_float:
        // A card number sent as a JSON number leaves the gateway too.
        scan(value.dump(), path, false);
        break;
      default:
        break;
    }
  }

  // A string value: scanned, and walked again as JSON when it carries JSON as text.
  void walk_string(std::string_view s, std::string& path, size_t depth) {
    if (is_base64_data_url(s)) {
      unscannable("data_url", path);
      return;  // the base64 payload is not text; scanning it finds only noise
    }
    scan(s, path, false);
    // JSON carried as text (tool arguments, results) may hide characters behind \u escapes.
    if (looks_like_escaped_json(s)) {
      std::optional<std::string> repeated;
      json inner = parse_noting_repeats(s, repeated);
      if (!inner.is_discarded()) {
        std::string inner_path = path + "#";
        // The text itself was scanned above; only the escapes in the values a repeated name
        // hides go unread.
        if (repeated) unscannable("repeated_member", inner_path);
        walk(inner, inner_path, depth + 1);
      }
    }
  }

 private:
  void walk_object(const json& object, std::string& path, size_t depth) {
    auto type = object.find("type");
    if (type != object.end() && type->is_string() &&
        in(type->get_ref<const std::string&>(), kNonTextPartTypes)) {
      unscannable(type->get_ref<const std::string&>(), path);
    }
    for (auto it = object.begin(); it != object.end(); ++it) {
      size_t mark = path.size();
      path += '/';
      path += escape_pointer_token(it.key());
      scan(it.key(), path, true);
      if (in(it.key(), kMediaMembers) && it.value().is_object()) {
        unscannable(it.key(), path);
      }
      walk(it.value(), path, depth + 1);
      path.resize(mark);
    }
  }

  void scan(std::string_view text, const std::string& path, bool in_key) {
    for (Finding& f : classifier_.scan(text)) {
      f.path = path;
      f.in_key = in_key;
      out_.push_back(std::move(f));
    }
  }

  void unscannable(std::string_view detector, const std::string& path) {
    out_.push_back(Finding{FindingType::unscannable, std::string(detector), 0, 0, 1.0,
                           config_.level_of(FindingType::unscannable), path, false});
  }

  const SensitivityClassifier& classifier_;
  const SensitivityConfig& config_;
  std::vector<Finding>& out_;
};

// The same walk over JSON text parsed into spans (json_spans.h): the order of visits, the
// paths, the findings and the nesting limit are the Walker's; only no nlohmann::json is built
// (that cost more than the scan). Strings holding escaped JSON are handed to the Walker.
class SpanWalker {
 public:
  SpanWalker(const SensitivityClassifier& classifier, const sensitivity_detail::JsonSpans& spans,
             std::vector<Finding>& out)
      : classifier_(classifier), config_(classifier.config()), spans_(spans), out_(out) {}

  void walk(const sensitivity_detail::JsonNode& node, std::string& path, size_t depth) {
    using Kind = sensitivity_detail::JsonNode::Kind;
    if (depth > config_.max_json_depth) {
      unscannable("nesting_limit", path);
      return;
    }
    switch (node.kind) {
      case Kind::object:
        walk_object(node, path, depth);
        break;
      case Kind::array:
        for (uint32_t i = 0; i < node.count; ++i) {
          size_t mark = path.size();
          path += '/';
          path += std::to_string(i);
          walk(spans_.node(spans_.member(node.first + i)), path, depth + 1);
          path.resize(mark);
        }
        break;
      case Kind::string: {
        std::string scratch;
        walk_string(spans_.value(node, scratch), path, depth);
        break;
      }
      case Kind::number: {
        // As the Walker scans it: the number parsed, then printed (1.50 -> "1.5").
        json number = json::parse(spans_.text().substr(node.begin, node.end - node.begin),
                                  nullptr, /*allow_exceptions=*/false);
        scan(number.dump(), path, false);
        break;
      }
      case Kind::literal:
        break;
    }
  }

 private:
  void walk_object(const sensitivity_detail::JsonNode& object, std::string& path, size_t depth) {
    using Kind = sensitivity_detail::JsonNode::Kind;
    std::string scratch;
    for (uint32_t m = 0; m < object.count; ++m) {
      const auto& key = spans_.node(spans_.member(object.first + 2 * m));
      const auto& value = spans_.node(spans_.member(object.first + 2 * m + 1));
      if (spans_.value(key, scratch) != "type" || value.kind != Kind::string) continue;
      std::string_view type = spans_.value(value, scratch);
      if (in(type, kNonTextPartTypes)) unscannable(type, path);
    }
    for (uint32_t m = 0; m < object.count; ++m) {
      const auto& key_node = spans_.node(spans_.member(object.first + 2 * m));
      const auto& value = spans_.node(spans_.member(object.first + 2 * m + 1));
      std::string_view key = spans_.value(key_node, scratch);  // names are never escaped
      size_t mark = path.size();
      path += '/';
      path += escape_pointer_token(key);
      scan(key, path, true);
      if (in(key, kMediaMembers) && value.kind == Kind::object) unscannable(key, path);
      walk(value, path, depth + 1);
      path.resize(mark);
    }
  }

  void walk_string(std::string_view s, std::string& path, size_t depth) {
    Walker(classifier_, out_).walk_string(s, path, depth);
  }

  void scan(std::string_view text, const std::string& path, bool in_key) {
    for (Finding& f : classifier_.scan(text)) {
      f.path = path;
      f.in_key = in_key;
      out_.push_back(std::move(f));
    }
  }

  void unscannable(std::string_view detector, const std::string& path) {
    out_.push_back(Finding{FindingType::unscannable, std::string(detector), 0, 0, 1.0,
                           config_.level_of(FindingType::unscannable), path, false});
  }

  const SensitivityClassifier& classifier_;
  const SensitivityConfig& config_;
  const sensitivity_detail::JsonSpans& spans_;
  std::vector<Finding>& out_;
};

std::string unknown_level(std::string_view where, std::string_view value) {
  return std::string(where) + ": unknown sensitivity level '" + std::string(value.substr(0, 64)) +
         "' (expected public, internal, confidential or restricted)";
}

}  // namespace

namespace {

std::expected<std::optional<SensitivityLevel>, SensitivityError> header_label(
    const SensitivityContext& context) {
  if (context.header_label.empty()) return std::nullopt;
  auto level = parse_sensitivity_level(context.header_label);
  if (!level) {
    return std::unexpected(
        SensitivityError{unknown_level("x-switchyard-sensitivity", context.header_label)});
  }
  return level;
}

// metadata.sensitivity, when it is there: a level, or why it is not one.
std::expected<std::optional<SensitivityLevel>, SensitivityError> metadata_label(
    bool present, bool is_string, std::string_view value) {
  if (!present) return std::nullopt;
  if (!is_string) {
    return std::unexpected(SensitivityError{"metadata.sensitivity: expected a string level"});
  }
  auto level = parse_sensitivity_level(value);
  if (!level) {
    return std::unexpected(SensitivityError{unknown_level("metadata.sensitivity", value)});
  }
  return level;
}

void decide_level(SensitivityResult& result) {
  result.level = result.detected;
  result.decided_by = SensitivityResult::DecidedBy::detectors;
  if (result.declared && *result.declared > result.level) {
    result.level = *result.declared;
    result.decided_by = SensitivityResult::DecidedBy::label;
  }
  if (result.floor > result.level) {
    result.level = result.floor;
    result.decided_by = SensitivityResult::DecidedBy::floor;
  }
}

}  // namespace

std::expected<SensitivityResult, SensitivityError> SensitivityClassifier::classify_request(
    const nlohmann::json& body, const SensitivityContext& context) const {
  SensitivityResult result;
  result.floor = context.tenant_floor;
  auto header = header_label(context);
  if (!header) return std::unexpected(header.error());
  result.declared = *header;
  if (body.is_object()) {
    auto metadata = body.find("metadata");
    if (metadata != body.end() && metadata->is_object()) {
      auto label = metadata->find("sensitivity");
      bool present = label != metadata->end();
      bool is_string = present && label->is_string();
      auto level = metadata_label(present, is_string,
                                  is_string ? std::string_view(label->get_ref<const std::string&>())
                                            : std::string_view());
      if (!level) return std::unexpected(level.error());
      if (*level) result.declared = std::max(result.declared.value_or(**level), **level);
    }
  }

  std::string path;
  Walker(*this, result.findings).walk(body, path, 0);
  result.detected = level_of(result.findings);
  decide_level(result);
  return result;
}

namespace {

// classify_request over JSON text; `parse_error` is the error when the text is not JSON.
std::expected<SensitivityResult, SensitivityError> classify_text(
    const SensitivityClassifier& classifier, std::string_view body,
    const SensitivityContext& context, std::string_view parse_error) {
  using sensitivity_detail::JsonNode;
  thread_local sensitivity_detail::JsonSpans spans;  // its buffers are reused per thread
  if (!spans.parse(body)) {
    std::optional<std::string> repeated;
    json parsed = parse_noting_repeats(body, repeated);
    if (parsed.is_discarded()) return std::unexpected(SensitivityError{std::string(parse_error)});
    if (repeated) return std::unexpected(repeated_member(*repeated));
    return classifier.classify_request(parsed, context);
  }
  if (spans.repeated()) return std::unexpected(repeated_member(spans.repeated_name()));
  SensitivityResult result;
  result.floor = context.tenant_floor;
  auto header = header_label(context);
  if (!header) return std::unexpected(header.error());
  result.declared = *header;
  std::string scratch;
  // The last member of `object` named `name` (members are in name order, repeats dropped).
  auto member = [&](const JsonNode& object, std::string_view name) -> const JsonNode* {
    for (uint32_t m = 0; m < object.count; ++m) {
      if (spans.value(spans.node(spans.member(object.first + 2 * m)), scratch) == name) {
        return &spans.node(spans.member(object.first + 2 * m + 1));
      }
    }
    return nullptr;
  };
  const JsonNode& root = spans.root();
  if (root.kind == JsonNode::Kind::object) {
    const JsonNode* metadata = member(root, "metadata");
    if (metadata && metadata->kind == JsonNode::Kind::object) {
      const JsonNode* label = member(*metadata, "sensitivity");
      bool is_string = label && label->kind == JsonNode::Kind::string;
      std::string value;
      if (is_string) value = spans.value(*label, scratch);
      auto level = metadata_label(label != nullptr, is_string, value);
      if (!level) return std::unexpected(level.error());
      if (*level) result.declared = std::max(result.declared.value_or(**level), **level);
    }
  }
  std::string path;
  SpanWalker(classifier, spans, result.findings).walk(root, path, 0);
  result.detected = classifier.level_of(result.findings);
  decide_level(result);
  return result;
}

}  // namespace

std::expected<SensitivityResult, SensitivityError> SensitivityClassifier::classify_request_text(
    std::string_view body, const SensitivityContext& context) const {
  return classify_text(*this, body, context, "request body is not valid JSON");
}

std::expected<SensitivityResult, SensitivityError> SensitivityClassifier::classify_chat_request(
    const backends::ChatRequest& request, const SensitivityContext& context) const {
  auto parsed_view =
      classify_text(*this, backends::openai::encode_chat_request(request, request.stream),
                    context, "request could not be encoded for scanning");
  if (!parsed_view || !request.native) return parsed_view;
  // A native request may be forwarded byte for byte (NativeRequest): what leaves is then the
  // client's own body, which can hold members the vocabulary dropped. Scan it too and keep the
  // stricter result (ties: the body that actually leaves).
  auto native_view = classify_text(*this, request.native->body, context,
                                   "request body could not be parsed for scanning");
  if (!native_view) return native_view;
  return native_view->level >= parsed_view->level ? native_view : parsed_view;
}

}  // namespace sy::policies
