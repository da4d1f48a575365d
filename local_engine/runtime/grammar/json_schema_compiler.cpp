#include "runtime/grammar/json_schema_compiler.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "switchyard/local_engine/engine_error.h"

namespace sy::engine::grammar {
namespace {

using Json = nlohmann::ordered_json;

// Frames of the parser stack are fixed-size arrays; deeper outputs are refused at compile time.
constexpr size_t kMaxDepthLimit = 64;

// Standard keywords that narrow the language and that this compiler does not implement.
const std::set<std::string, std::less<>> kUnsupported = {
    "pattern",
    "patternProperties",
    "propertyNames",
    "oneOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minProperties",
    "maxProperties",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "prefixItems",
    "additionalItems",
    "unevaluatedItems",
    "unevaluatedProperties",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "$dynamicRef",
    "$recursiveRef",
};

// Formats that only annotate (OpenAPI's number widths) or that no standard defines; the
// standard string formats narrow the language and are refused.
const std::set<std::string, std::less<>> kStandardFormats = {
    "date-time", "date",          "time", "duration",     "email",        "idn-email",
    "hostname",  "idn-hostname",  "ipv4", "ipv6",         "uri",          "uri-reference",
    "iri",       "iri-reference", "uuid", "uri-template", "json-pointer", "relative-json-pointer",
    "regex",
};

// Keywords that give a schema its language; a $ref or anyOf beside them is refused rather than
// intersected.
const std::set<std::string, std::less<>> kLanguage = {
    "type",      "properties", "required", "additionalProperties",
    "items",     "minItems",   "maxItems", "minLength",
    "maxLength", "enum",       "const",    "anyOf",
    "$ref",      "nullable",
};

std::string child(const std::string& pointer, std::string_view token) {
  std::string escaped;
  for (char c : token) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return pointer + "/" + escaped;
}

std::string where(const std::string& pointer) { return pointer.empty() ? "/" : pointer; }

[[noreturn]] void fail(const std::string& pointer, const std::string& what) {
  throw EngineError("json schema at " + where(pointer) + ": " + what);
}

// Objects/arrays a JSON value nests (0 for a scalar). Iterative: a 64 KiB value may nest
// thousands deep, and it is checked before anything recursive (dump) touches it.
uint32_t value_depth(const Json& v) {
  uint32_t deepest = 0;
  std::vector<std::pair<const Json*, uint32_t>> todo = {{&v, 0}};
  while (!todo.empty()) {
    auto [at, depth] = todo.back();
    todo.pop_back();
    if (!at->is_structured()) continue;
    deepest = std::max(deepest, depth + 1);
    for (const auto& e : *at) todo.emplace_back(&e, depth + 1);
  }
  return deepest;
}

bool matches_type(const Json& v, std::string_view type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    return v.is_number_integer() ||
           (v.is_number_float() &&
            v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())));
  }
  return false;
}

std::string dump_literal(const Json& v, const std::string& pointer) {
  try {
    return v.dump();
  } catch (const nlohmann::json::exception&) {
    fail(pointer, "value is not valid UTF-8");
  }
}

class Compiler {
 public:
  explicit Compiler(const JsonConstraintLimits& limits) : limits_(limits) {
    if (limits.max_depth > kMaxDepthLimit) {
      throw EngineError("json schema: max_depth " + std::to_string(limits.max_depth) +
                        " is over the engine's limit of " + std::to_string(kMaxDepthLimit));
    }
    out_.max_depth = static_cast<uint32_t>(limits.max_depth);
    out_.max_whitespace = static_cast<uint32_t>(std::min<size_t>(limits.max_whitespace, 255));
    // anyOf and $ref chains nest schemas without nesting the output; this bounds recursion.
    max_nesting_ = 8 * limits.max_depth + 64;
  }

  JsonSchema run(std::string_view text) {
    if (text.size() > limits_.max_schema_bytes) {
      throw EngineError("json schema of " + std::to_string(text.size()) +
                        " bytes is over the limit of " + std::to_string(limits_.max_schema_bytes));
    }
    out_.any_string = add(make_node(NodeKind::string, "(key)"));
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      out_.root = add(make_node(NodeKind::free_object, "(any object)"));
      out_.nodes[out_.root].value = any();
    } else {
      try {
        doc_ = Json::parse(text);
      } catch (const nlohmann::json::parse_error& e) {
        throw EngineError(std::string("json schema is not valid JSON: ") + e.what());
      }
      out_.root = resolve("", 0, 0, "");
    }
    compute_min_depth();
    const SchemaNode& root = out_.nodes[out_.root];
    if (root.min_depth > out_.max_depth) {
      fail("", "has no instance that nests at most max_depth " + std::to_string(out_.max_depth) +
                   " objects/arrays");
    }
    return std::move(out_);
  }

 private:
  static SchemaNode make_node(NodeKind kind, std::string pointer) {
    SchemaNode n;
    n.kind = kind;
    n.pointer = std::move(pointer);
    return n;
  }
  NodeId add(SchemaNode n) {
    out_.nodes.push_back(std::move(n));
    literal_depth_.push_back(0);
    return static_cast<NodeId>(out_.nodes.size() - 1);
  }

  NodeId literal(std::vector<std::string> texts, uint32_t depth, const std::string& pointer) {
    std::sort(texts.begin(), texts.end());
    texts.erase(std::unique(texts.begin(), texts.end()), texts.end());
    LiteralSet set;
    set.tags.resize(texts.size());
    std::iota(set.tags.begin(), set.tags.end(), 0u);
    set.texts = std::move(texts);
    out_.literal_sets.push_back(std::move(set));
    NodeId id = add(make_node(NodeKind::literal, pointer));
    out_.nodes[id].literal_set = static_cast<uint32_t>(out_.literal_sets.size() - 1);
    literal_depth_[id] = depth;
    return id;
  }

  // Any JSON value: one node graph shared by every place that allows anything.
  NodeId any() {
    if (any_ != kUnbounded) return any_;
    any_ = add(make_node(NodeKind::any_of, "(any)"));
    NodeId object = add(make_node(NodeKind::free_object, "(any)"));
    NodeId array = add(make_node(NodeKind::array, "(any)"));
    out_.nodes[object].value = any_;
    out_.nodes[array].value = any_;
    NodeId string = add(make_node(NodeKind::string, "(any)"));
    NodeId number = add(make_node(NodeKind::number, "(any)"));
    NodeId words = literal({"false", "null", "true"}, 0, "(any)");
    out_.nodes[any_].alternatives = {object, array, string, number, words};
    return any_;
  }

  // The node for the schema at `pointer` inside the document (reached by $ref or as the root);
  // compiled once, so recursive references become cycles.
  NodeId resolve(const std::string& pointer, uint32_t depth, size_t nesting,
                 const std::string& from) {
    auto found = memo_.find(pointer);
    if (found != memo_.end()) {
      auto open = open_.find(found->second);
      if (open != open_.end() && open->second == depth) {
        fail(from, "$ref \"#" + pointer + "\" loops back without an object or array between");
      }
      return found->second;
    }
    const Json* target = pointer.empty() ? &doc_ : nullptr;
    try {
      Json::json_pointer jp(pointer);
      if (target == nullptr && doc_.contains(jp)) target = &doc_.at(jp);
    } catch (const nlohmann::json::exception&) {
      fail(from, "$ref \"#" + pointer + "\" is not a JSON pointer");
    }
    if (target == nullptr) fail(from, "$ref \"#" + pointer + "\" points at nothing");
    NodeId id = add(make_node(NodeKind::any_of, pointer));
    memo_[pointer] = id;
    open_[id] = depth;
    NodeId body = compile(*target, pointer, depth, nesting);
    SchemaNode copy = out_.nodes[body];
    out_.nodes[id] = std::move(copy);
    literal_depth_[id] = literal_depth_[body];
    open_.erase(id);
    return id;
  }

  NodeId compile(const Json& s, const std::string& pointer, uint32_t depth, size_t nesting) {
    if (++nesting > max_nesting_) fail(pointer, "schema nests too deeply");
    if (s.is_boolean()) {
      if (s.get<bool>()) return any();
      fail(pointer, "schema false has no instances");
    }
    if (!s.is_object()) fail(pointer, "a schema must be an object or a boolean");
    for (const auto& [key, value] : s.items()) {
      if (kUnsupported.contains(key)) fail(child(pointer, key), "keyword is not supported");
      if (key == "format" && value.is_string() &&
          kStandardFormats.contains(value.get<std::string>())) {
        fail(child(pointer, key), "format \"" + value.get<std::string>() + "\" is not supported");
      }
    }
    auto only = [&](std::string_view keyword) {
      for (const auto& [key, value] : s.items()) {
        if (key != keyword && kLanguage.contains(key)) {
          fail(child(pointer, key), "keyword beside " + std::string(keyword) + " is not supported");
        }
      }
    };
    if (s.contains("$ref")) {
      only("$ref");
      const Json& ref = s["$ref"];
      if (!ref.is_string()) fail(child(pointer, "$ref"), "must be a string");
      const std::string text = ref.get<std::string>();
      if (text.empty() || text[0] != '#') {
        fail(child(pointer, "$ref"), "only local references (\"#/...\") are supported");
      }
      return resolve(text.substr(1), depth, nesting, child(pointer, "$ref"));
    }
    if (s.contains("anyOf")) {
      only("anyOf");
      const Json& list = s["anyOf"];
      const std::string at = child(pointer, "anyOf");
      if (!list.is_array() || list.empty()) fail(at, "must be a non-empty array");
      if (list.size() > limits_.max_any_of) {
        fail(at, std::to_string(list.size()) + " alternatives is over the limit of " +
                     std::to_string(limits_.max_any_of));
      }
      std::vector<NodeId> alternatives;
      for (size_t i = 0; i < list.size(); ++i) {
        alternatives.push_back(compile(list[i], child(at, std::to_string(i)), depth, nesting));
      }
      NodeId id = add(make_node(NodeKind::any_of, pointer));
      out_.nodes[id].alternatives = std::move(alternatives);
      return id;
    }

    std::vector<std::string> types;
    if (s.contains("type")) {
      const Json& t = s["type"];
      const std::string at = child(pointer, "type");
      if (t.is_string()) {
        types.push_back(t.get<std::string>());
      } else if (t.is_array() && !t.empty()) {
        for (const auto& e : t) {
          if (!e.is_string()) fail(at, "type list entries must be strings");
          types.push_back(e.get<std::string>());
        }
      } else {
        fail(at, "must be a type name or a non-empty list of them");
      }
      for (const auto& name : types) {
        if (name != "object" && name != "array" && name != "string" && name != "number" &&
            name != "integer" && name != "boolean" && name != "null") {
          fail(at, "unknown type \"" + name + "\"");
        }
      }
    }
    if (s.contains("nullable") && s["nullable"].is_boolean() && s["nullable"].get<bool>() &&
        !types.empty()) {
      types.push_back("null");
    }

    if (s.contains("const") || s.contains("enum")) {
      // Pointers, not copies: copying a value recurses, and a value may nest thousands deep.
      std::vector<const Json*> values;
      std::string at;
      if (s.contains("const")) {
        at = child(pointer, "const");
        values.push_back(&s["const"]);
      } else {
        at = child(pointer, "enum");
        const Json& list = s["enum"];
        if (!list.is_array() || list.empty()) fail(at, "must be a non-empty array");
        if (list.size() > limits_.max_enum_values) {
          fail(at, std::to_string(list.size()) + " values is over the limit of " +
                       std::to_string(limits_.max_enum_values));
        }
        for (const auto& v : list) values.push_back(&v);
      }
      std::vector<std::string> texts;
      uint32_t nest = 0;
      for (const Json* value : values) {
        const Json& v = *value;
        bool typed = types.empty();
        for (const auto& name : types) typed = typed || matches_type(v, name);
        if (!typed) continue;
        nest = std::max(nest, value_depth(v));
        if (depth + nest > out_.max_depth) {
          fail(at, "a value nests deeper than max_depth " + std::to_string(out_.max_depth));
        }
        texts.push_back(dump_literal(v, at));
      }
      if (texts.empty()) fail(at, "no value has the schema's type");
      return literal(std::move(texts), nest, at);
    }

    if (types.empty()) {
      // No type: what the other keywords describe, or anything.
      if (s.contains("properties") || s.contains("additionalProperties") ||
          s.contains("required")) {
        types.push_back("object");
      } else if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) {
        types.push_back("array");
      } else if (s.contains("minLength") || s.contains("maxLength")) {
        types.push_back("string");
      } else {
        return any();
      }
    }
    std::vector<NodeId> alternatives;
    bool has_null = false;
    bool has_boolean = false;
    for (const auto& name : types) {
      if (name == "object") {
        alternatives.push_back(object(s, pointer, depth, nesting));
      } else if (name == "array") {
        alternatives.push_back(array(s, pointer, depth, nesting));
      } else if (name == "string") {
        NodeId id = add(make_node(NodeKind::string, pointer));
        out_.nodes[id].min_count = count(s, "minLength", pointer, 0);
        out_.nodes[id].max_count = count(s, "maxLength", pointer, kUnbounded);
        if (out_.nodes[id].min_count > out_.nodes[id].max_count) {
          fail(pointer, "minLength is over maxLength");
        }
        alternatives.push_back(id);
      } else if (name == "number") {
        alternatives.push_back(add(make_node(NodeKind::number, pointer)));
      } else if (name == "integer") {
        alternatives.push_back(add(make_node(NodeKind::integer, pointer)));
      } else if (name == "boolean") {
        has_boolean = true;
      } else {
        has_null = true;
      }
    }
    // One literal node for boolean and null together: their texts share no prefix issues and
    // one range walk is cheaper than a fork.
    if (has_boolean || has_null) {
      std::vector<std::string> words;
      if (has_boolean) words = {"false", "true"};
      if (has_null) words.push_back("null");
      alternatives.push_back(literal(std::move(words), 0, pointer));
    }
    if (alternatives.size() == 1) return alternatives[0];
    NodeId id = add(make_node(NodeKind::any_of, pointer));
    out_.nodes[id].alternatives = std::move(alternatives);
    return id;
  }

  uint32_t count(const Json& s, const char* keyword, const std::string& pointer, uint32_t absent) {
    if (!s.contains(keyword)) return absent;
    const Json& v = s[keyword];
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
      fail(child(pointer, keyword), "must be a non-negative integer");
    }
    return static_cast<uint32_t>(std::min<uint64_t>(v.get<uint64_t>(), kUnbounded - 1));
  }

  NodeId array(const Json& s, const std::string& pointer, uint32_t depth, size_t nesting) {
    if (depth + 1 > out_.max_depth) {
      fail(pointer, "nests deeper than max_depth " + std::to_string(out_.max_depth));
    }
    NodeId items = 0;
    uint32_t max_items = count(s, "maxItems", pointer, kUnbounded);
    if (!s.contains("items")) {
      items = any();
    } else {
      const Json& it = s["items"];
      const std::string at = child(pointer, "items");
      if (it.is_array()) fail(at, "tuple items (an array of schemas) are not supported");
      if (it.is_boolean() && !it.get<bool>()) {
        items = any();
        max_items = 0;
      } else {
        items = compile(it, at, depth + 1, nesting);
      }
    }
    NodeId id = add(make_node(NodeKind::array, pointer));
    SchemaNode& node = out_.nodes[id];
    node.value = items;
    node.min_count = count(s, "minItems", pointer, 0);
    node.max_count = max_items;
    if (node.min_count > node.max_count) fail(pointer, "minItems is over maxItems");
    return id;
  }

  NodeId object(const Json& s, const std::string& pointer, uint32_t depth, size_t nesting) {
    if (depth + 1 > out_.max_depth) {
      fail(pointer, "nests deeper than max_depth " + std::to_string(out_.max_depth));
    }
    static const Json kEmpty = Json::object();
    const Json& props = s.contains("properties") ? s["properties"] : kEmpty;
    if (!props.is_object()) fail(child(pointer, "properties"), "must be an object");
    if (props.size() > limits_.max_properties) {
      fail(child(pointer, "properties"), std::to_string(props.size()) +
                                             " properties is over the limit of " +
                                             std::to_string(limits_.max_properties));
    }
    std::set<std::string> required;
    if (s.contains("required")) {
      const Json& list = s["required"];
      const std::string at = child(pointer, "required");
      if (!list.is_array()) fail(at, "must be an array of property names");
      for (const auto& name : list) {
        if (!name.is_string()) fail(at, "must be an array of property names");
        if (!props.contains(name.get<std::string>())) {
          fail(at,
               "required property \"" + name.get<std::string>() + "\" is not among the properties");
        }
        required.insert(name.get<std::string>());
      }
    }
    const Json* additional =
        s.contains("additionalProperties") ? &s["additionalProperties"] : nullptr;
    if (additional != nullptr && !additional->is_boolean() && !additional->is_object()) {
      fail(child(pointer, "additionalProperties"), "must be a boolean or a schema");
    }
    if (props.empty()) {
      if (additional != nullptr && additional->is_boolean() && !additional->get<bool>()) {
        return literal({"{}"}, 1, pointer);
      }
      NodeId value =
          additional != nullptr && additional->is_object()
              ? compile(*additional, child(pointer, "additionalProperties"), depth + 1, nesting)
              : any();
      NodeId id = add(make_node(NodeKind::free_object, pointer));
      out_.nodes[id].value = value;
      return id;
    }
    std::vector<Property> properties;
    const std::string at = child(pointer, "properties");
    for (const auto& [name, schema] : props.items()) {
      Property p;
      p.key = dump_literal(Json(name), at);
      p.required = required.contains(name);
      p.value = compile(schema, child(at, name), depth + 1, nesting);
      properties.push_back(std::move(p));
    }
    NodeId id = add(make_node(NodeKind::object, pointer));
    const size_t n = properties.size();
    std::vector<uint32_t> key_sets;
    std::vector<uint8_t> may_close;
    for (size_t c = 0; c <= n; ++c) {
      size_t last = c;
      while (last < n && !properties[last].required) ++last;
      // Keys c..last (last is the next required one, or n when none is left).
      LiteralSet set;
      std::vector<std::pair<std::string, uint32_t>> keys;
      for (size_t i = c; i < std::min(last + 1, n); ++i) {
        keys.emplace_back(properties[i].key, static_cast<uint32_t>(i));
      }
      std::sort(keys.begin(), keys.end());
      for (auto& [text, tag] : keys) {
        set.texts.push_back(std::move(text));
        set.tags.push_back(tag);
      }
      out_.literal_sets.push_back(std::move(set));
      key_sets.push_back(static_cast<uint32_t>(out_.literal_sets.size() - 1));
      may_close.push_back(last == n ? 1 : 0);
    }
    SchemaNode& node = out_.nodes[id];
    node.properties = std::move(properties);
    node.key_sets = std::move(key_sets);
    node.may_close = std::move(may_close);
    return id;
  }

  // Fewest nested objects/arrays per node, by fixpoint: recursion through a cycle only lowers a
  // value once the cycle has a way out.
  void compute_min_depth() {
    auto& nodes = out_.nodes;
    for (auto& n : nodes) n.min_depth = kUnbounded;
    auto plus = [](uint32_t a, uint32_t b) {
      return a == kUnbounded || b == kUnbounded ? kUnbounded : a + b;
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i = 0; i < nodes.size(); ++i) {
        SchemaNode& n = nodes[i];
        uint32_t d = kUnbounded;
        switch (n.kind) {
          case NodeKind::any_of:
            for (NodeId a : n.alternatives) d = std::min(d, nodes[a].min_depth);
            break;
          case NodeKind::object: {
            uint32_t inner = 0;
            for (const auto& p : n.properties) {
              if (p.required) inner = std::max(inner, nodes[p.value].min_depth);
            }
            d = plus(inner, 1);
            break;
          }
          case NodeKind::free_object:
            d = 1;
            break;
          case NodeKind::array:
            d = plus(n.min_count > 0 ? nodes[n.value].min_depth : 0, 1);
            break;
          case NodeKind::literal:
            d = literal_depth_[i];
            break;
          default:
            d = 0;
        }
        if (d != kUnbounded && d > out_.max_depth) d = kUnbounded;
        if (d < n.min_depth) {
          n.min_depth = d;
          changed = true;
        }
      }
    }
    for (auto& n : nodes) {
      if (n.kind != NodeKind::object) continue;
      uint32_t most = 0;
      for (const auto& p : n.properties) most = std::max(most, nodes[p.value].min_depth);
      n.max_property_depth = most;
    }
  }

  const JsonConstraintLimits& limits_;
  size_t max_nesting_ = 0;
  Json doc_;
  JsonSchema out_;
  std::vector<uint32_t> literal_depth_;
  std::map<std::string, NodeId> memo_;
  std::map<NodeId, uint32_t> open_;  // $ref targets being compiled -> depth they started at
  NodeId any_ = kUnbounded;
};

}  // namespace

JsonSchema compile_json_schema(std::string_view schema_json, const JsonConstraintLimits& limits) {
  return Compiler(limits).run(schema_json);
}

}  // namespace sy::engine::grammar
