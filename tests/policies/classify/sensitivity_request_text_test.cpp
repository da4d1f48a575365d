// classify_request_text (the gateway's path: JSON text walked as spans, no nlohmann::json
// built) must give exactly what classify_request gives on the parsed body: the same findings
// with the same paths, spans and order, the same level, the same errors.

#include "switchyard/policies/classify/sensitivity_classifier.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace sy::policies {
namespace {

const SensitivityClassifier& classifier() {
  static std::shared_ptr<const SensitivityClassifier> c = [] {
    SensitivityConfig config;
    config.max_json_depth = 6;  // small, so that random nesting passes it
    auto created = SensitivityClassifier::create(config);
    if (!created) throw std::runtime_error(created.error().message);
    return *created;
  }();
  return *c;
}

std::string describe(const std::expected<SensitivityResult, SensitivityError>& r) {
  if (!r) return "error: " + r.error().message + "\n";
  std::string out = "level " + std::string(to_string(r->level)) + " by " +
                    std::string(to_string(r->decided_by)) + "\n";
  for (const Finding& f : r->findings) {
    out += std::string(to_string(f.type)) + "/" + f.detector + " " + std::to_string(f.begin) +
           "-" + std::to_string(f.end) + " " + std::to_string(f.confidence) + " " +
           std::string(to_string(f.level)) + " " + f.path + (f.in_key ? " key" : "") + "\n";
  }
  return out;
}

// Whether some object in `body` (JSON) repeats a member name, by nlohmann's SAX events.
bool repeats_a_name(const std::string& body) {
  struct Names : nlohmann::json_sax<nlohmann::json> {
    std::vector<std::set<std::string>> open;
    bool repeated = false;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override {
      open.emplace_back();
      return true;
    }
    bool key(string_t& name) override {
      repeated |= !open.back().insert(name).second;
      return true;
    }
    bool end_object() override {
      open.pop_back();
      return true;
    }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
      return false;
    }
  } names;
  return nlohmann::json::sax_parse(body, &names) && names.repeated;
}

// A body that repeats a member name is refused whichever way it is walked: a backend that
// reads it may keep either value.
void expect_same(const std::string& body, const SensitivityContext& context = {}) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  auto by_text = classifier().classify_request_text(body, context);
  if (parsed.is_discarded()) {
    EXPECT_FALSE(by_text.has_value()) << body << "\n" << describe(by_text);
    return;
  }
  if (repeats_a_name(body)) {
    ASSERT_FALSE(by_text.has_value()) << body << "\n" << describe(by_text);
    EXPECT_NE(by_text.error().message.find("repeats the member name"), std::string::npos)
        << by_text.error().message;
    return;
  }
  auto by_json = classifier().classify_request(parsed, context);
  EXPECT_EQ(describe(by_json), describe(by_text)) << body;
}

TEST(SensitivityRequestText, SameAsTheParsedWalkOnTheRequestCases) {
  YAML::Node cases = YAML::LoadFile(std::string(SWITCHYARD_SOURCE_DIR) +
                                    "/tests/policies/cases/sensitivity/requests.yaml");
  for (const YAML::Node& c : cases) {
    SCOPED_TRACE(c["name"].as<std::string>());
    SensitivityContext context;
    if (c["header"]) context.header_label = c["header"].as<std::string>();
    expect_same(c["request"].as<std::string>(), context);
  }
}

TEST(SensitivityRequestText, SameOnEdgeCases) {
  for (const char* body : {
           R"({"b": "4111 1111 1111 1111", "a": "x@example.com", "b": "call +44 20 7946 0958"})",
           R"({"metadata": {"sensitivity": "restricted"}, "m": 1.50, "n": -0, "o": 1e2})",
           R"({"metadata": {"sensitivity": 3}})",
           R"({"metadata": {"sensitivity": "secret"}})",
           R"({"metadata": {"sensitivity": "internal", "sensitivity": "public"}})",
           R"({"metadata": "restricted", "x": [true, false, null, 4111111111111111]})",
           R"({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}})",
           R"({"parts": [{"inline_data": {"data": "x"}}, {"text": "SSN 536-22-1234"}]})",
           R"({"a~b/c": {"k": "v"}, "\u0061": 1})",
           R"(["\u0034111111111111111", "caf\u00e9 \ud83d\ude00 DE89 3704 0044 0532 0130 00"])",
           R"({"args": "{\"card\": \"\\u0034111111111111111\"}"})",
           R"({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": "4111111111111111"}}}}}}}})",
           R"("just a string with 10.20.30.40")",
           R"(42)",
           "{\"bad utf8\": \"\xff\xfe\"}",
           "{\"overlong\": \"\xc0\xaf\"}",
           "{\"ctrl\": \"a\x01b\"}",
           R"({"lone": "\ud800"})",
           R"({"trailing": 1,})",
           R"({"x": 01})",
           R"([1, 2] [3])",
           "",
           // Past the 16-byte fast path: an escape, UTF-8, a control byte, bad UTF-8.
           R"({"long": "abcdefghijklmnopqrst\"uvwxyz café café 4111 1111 1111 1111 ok"})",
           "{\"long\": \"abcdefghijklmnopqrstuvwxyz0123\x01 x\"}",
           "{\"long\": \"abcdefghijklmnopqrstuvwxyz0123\xc3 x\"}",
           " \n\t{\"ok\": \"John Smith, 221B Baker Street\"} \n",
       }) {
    SCOPED_TRACE(body);
    expect_same(body);
  }
  // Nesting past the parser's own limit is left to nlohmann: still the same answer.
  expect_same(std::string(600, '[') + std::string(600, ']'));
}

// What leaves may be the client's own bytes (a native body, a passthrough member): a value a
// repeated name hides must not slip past the scan, so the body is refused, at any depth, on
// the span walk and on nlohmann's (escaped names, past 512 levels). JSON carried in a string
// (tool arguments) is scanned as text whole; a name repeated in it is an unscannable finding.
TEST(SensitivityRequestText, RepeatedMemberNamesAreRefused) {
  const std::string deep = std::string(600, '[') + R"({"a": 1, "a": 2})" + std::string(600, ']');
  for (const std::string body :
       {std::string(R"({"system": "card 4111 1111 1111 1111", "system": "be nice"})"),
        std::string(R"({"m": [{"content": "IBAN DE89 3704 0044 0532 0130 00", "content": "x"}]})"),
        std::string(R"({"metadata": {"sensitivity": "restricted", "sensitivity": "public"}})"),
        std::string(R"({"\u0061": "4111111111111111", "a": "x"})"), deep}) {
    SCOPED_TRACE(body.substr(0, 80));
    auto result = classifier().classify_request_text(body, {});
    ASSERT_FALSE(result.has_value()) << describe(result);
    EXPECT_NE(result.error().message.find("repeats the member name"), std::string::npos)
        << result.error().message;
    // Never the value itself in the message: only the name.
    EXPECT_EQ(result.error().message.find("4111"), std::string::npos);
  }
  auto inner = classifier().classify_request_text(
      R"({"args": "{\"to\": \"\\u0034111111111111111\", \"to\": \"x\"}"})", {});
  ASSERT_TRUE(inner.has_value());
  bool flagged = false;
  for (const Finding& f : inner->findings) {
    flagged |=
        f.type == FindingType::unscannable && f.detector == "repeated_member" && f.path == "/args#";
  }
  EXPECT_TRUE(flagged) << describe(inner);
}

TEST(SensitivityRequestText, SameOnRandomDocuments) {
  std::mt19937 rng(5);
  const char* strings[] = {"4111 1111 1111 1111", "anna.schmidt@example.de", "plain words",
                           "SSN 536-22-1234",     "caf\\u00e9",              "line\\nbreak",
                           "data:x;base64,AAA",   "{\\\"k\\\": \\\"4111111111111111\\\"}",
                           "type",                "image_url",               "metadata",
                           "sensitivity",         "restricted",              "\\\"quoted\\\""};
  std::function<std::string(int)> value = [&](int depth) -> std::string {
    switch (depth > 8 ? rng() % 3 : rng() % 6) {
      case 0:
        return "\"" + std::string(strings[rng() % std::size(strings)]) + "\"";
      case 1:
        return std::to_string(static_cast<int>(rng() % 20000) - 10000) +
               (rng() % 3 == 0 ? ".25" : "");
      case 2:
        return rng() % 2 ? "true" : "null";
      case 3: {
        std::string out = "[";
        for (unsigned i = 0, n = rng() % 4; i < n; ++i) out += (i ? "," : "") + value(depth + 1);
        return out + "]";
      }
      default: {
        std::string out = "{";
        for (unsigned i = 0, n = rng() % 5; i < n; ++i) {
          out += (i ? ", " : "") + std::string("\"") + strings[rng() % 4 + 8] + "\": " +
                 value(depth + 1);
        }
        return out + "}";
      }
    }
  };
  for (int round = 0; round < 400; ++round) {
    std::string body = value(0);
    SCOPED_TRACE(body);
    expect_same(body);
  }
}

}  // namespace
}  // namespace sy::policies
