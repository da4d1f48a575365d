#pragma once
// A small JSON Schema validator for the subset the grammar compiles, written independently of
// the compiler so the tests check outputs against the schema, not against the compiler's
// reading of it. Returns an empty string when valid, else where and why not.

#include <string>

#include <nlohmann/json.hpp>

namespace sy::engine::testing {

class SchemaValidator {
 public:
  using Json = nlohmann::ordered_json;
  explicit SchemaValidator(Json root) : root_(std::move(root)) {}

  std::string validate(const nlohmann::json& value) const { return check(value, root_, "$"); }

 private:
  static size_t code_points(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  static bool has_type(const nlohmann::json& v, const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    if (t == "number") return v.is_number();
    if (t == "integer") return v.is_number_integer();
    return false;
  }
  static bool same(const nlohmann::json& v, const Json& literal) {
    return v == nlohmann::json::parse(literal.dump());
  }

  std::string check(const nlohmann::json& v, const Json& s, const std::string& at) const {
    if (s.is_boolean()) return s.get<bool>() ? "" : at + ": schema false";
    if (s.contains("$ref")) {
      std::string ref = s["$ref"].get<std::string>().substr(1);
      return check(v, root_.at(Json::json_pointer(ref)), at);
    }
    if (s.contains("anyOf")) {
      for (const auto& alt : s["anyOf"]) {
        if (check(v, alt, at).empty()) return "";
      }
      return at + ": matches no anyOf alternative";
    }
    if (s.contains("const") && !same(v, s["const"])) return at + ": not the const";
    if (s.contains("enum")) {
      bool found = false;
      for (const auto& e : s["enum"]) found = found || same(v, e);
      if (!found) return at + ": not in the enum";
    }
    if (s.contains("type")) {
      std::vector<std::string> types;
      if (s["type"].is_string()) {
        types.push_back(s["type"].get<std::string>());
      } else {
        types = s["type"].get<std::vector<std::string>>();
      }
      if (s.value("nullable", false)) types.push_back("null");
      bool ok = false;
      for (const auto& t : types) ok = ok || has_type(v, t);
      if (!ok) return at + ": wrong type " + std::string(v.type_name());
    }
    if (v.is_object()) {
      const Json props = s.value("properties", Json::object());
      for (const auto& r : s.value("required", Json::array())) {
        if (!v.contains(r.get<std::string>())) return at + ": missing " + r.get<std::string>();
      }
      for (const auto& [k, item] : v.items()) {
        if (props.contains(k)) {
          auto e = check(item, props[k], at + "." + k);
          if (!e.empty()) return e;
        } else if (s.contains("additionalProperties")) {
          const Json& extra = s["additionalProperties"];
          if (extra.is_boolean() && !extra.get<bool>()) return at + ": extra property " + k;
          auto e = check(item, extra, at + "." + k);
          if (!e.empty()) return e;
        }
      }
    }
    if (v.is_array()) {
      if (v.size() < s.value("minItems", size_t{0})) return at + ": too few items";
      if (v.size() > s.value("maxItems", SIZE_MAX)) return at + ": too many items";
      if (s.contains("items")) {
        for (size_t i = 0; i < v.size(); ++i) {
          auto e = check(v[i], s["items"], at + "[" + std::to_string(i) + "]");
          if (!e.empty()) return e;
        }
      }
    }
    if (v.is_string()) {
      const size_t n = code_points(v.get<std::string>());
      if (n < s.value("minLength", size_t{0})) return at + ": string too short";
      if (n > s.value("maxLength", SIZE_MAX)) return at + ": string too long";
    }
    return "";
  }

  Json root_;
};

}  // namespace sy::engine::testing
