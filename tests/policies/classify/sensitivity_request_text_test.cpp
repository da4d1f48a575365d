// classify_request_text (the gateway's path: JSON text walked as spans, no nlohmann::json
// built) must give exactly what classify_request gives on the parsed body: the same findings
// with the same paths, spans and order, the same level, the same errors.

#include "switchyard/policies/classify/sensitivity_classifier.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <functional>
#include <random>
#include <string>

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

void expect_same(const std::string& body, const SensitivityContext& context = {}) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  auto by_text = classifier().classify_request_text(body, context);
  if (parsed.is_discarded()) {
    EXPECT_FALSE(by_text.has_value()) << body << "\n" << describe(by_text);
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
