// Schemas the compiler must refuse, quickly and saying what and where.

#include "runtime/grammar/json_schema_compiler.h"

#include <gtest/gtest.h>

#include "runtime/grammar/json_parser.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "switchyard/local_engine/engine_error.h"

namespace sy::engine::grammar {
namespace {

std::string error_of(const std::string& schema, JsonConstraintLimits limits = {}) {
  try {
    compile_json_schema(schema, limits);
  } catch (const EngineError& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR_HAS(schema, ...)                                                   \
  do {                                                                                  \
    const std::string message = error_of(schema);                                       \
    ASSERT_FALSE(message.empty()) << schema;                                            \
    for (const char* part : {__VA_ARGS__})                                              \
      EXPECT_NE(message.find(part), std::string::npos) << message << " lacks " << part; \
  } while (0)

TEST(JsonSchemaCompiler, NamesUnsupportedKeywordsAndWhereTheyAre) {
  EXPECT_ERROR_HAS(R"({"type":"object","properties":{"a":{"type":"string","pattern":"x+"}}})",
                   "/properties/a/pattern", "not supported");
  EXPECT_ERROR_HAS(R"({"oneOf":[{"type":"string"}]})", "/oneOf");
  EXPECT_ERROR_HAS(R"({"allOf":[{"type":"string"}]})", "/allOf");
  EXPECT_ERROR_HAS(R"({"not":{"type":"string"}})", "/not");
  EXPECT_ERROR_HAS(R"({"type":"integer","minimum":3})", "/minimum");
  EXPECT_ERROR_HAS(R"({"type":"string","format":"date-time"})", "/format", "date-time");
  EXPECT_ERROR_HAS(R"({"type":"array","items":[{"type":"string"}]})", "/items", "tuple");
  EXPECT_ERROR_HAS(R"({"$ref":"https://example.com/s.json"})", "/$ref", "local");
  EXPECT_ERROR_HAS(R"({"$ref":"#/$defs/missing"})", "points at nothing");
  EXPECT_ERROR_HAS(R"({"type":"object","required":["x"],"properties":{}})", "required", "x");
  EXPECT_ERROR_HAS(R"({"type":"strin"})", "unknown type");
  EXPECT_ERROR_HAS(R"({"type":"string","minLength":5,"maxLength":2})", "minLength");
  EXPECT_ERROR_HAS(R"({"type":"array","minItems":3,"maxItems":1})", "minItems");
  EXPECT_ERROR_HAS(R"({"enum":[]})", "/enum");
  EXPECT_ERROR_HAS("{not json", "not valid JSON");
  EXPECT_ERROR_HAS("false", "no instances");
}

TEST(JsonSchemaCompiler, IgnoresDescriptiveKeywordsAndAnnotationFormats) {
  EXPECT_NO_THROW(compile_json_schema(
      R"({"title":"t","description":"d","examples":[1],"default":2,"$comment":"c",
          "type":"integer","format":"int64","x-vendor":true})",
      {}));
}

TEST(JsonSchemaCompiler, RefusesNestingDeeperThanMaxDepth) {
  std::string schema = R"({"type":"string"})";
  for (int i = 0; i < 17; ++i) schema = R"({"type":"array","items":)" + schema + "}";
  EXPECT_ERROR_HAS(schema, "max_depth 16");
  std::string objects = R"({"type":"integer"})";
  for (int i = 0; i < 20; ++i) {
    objects = R"({"type":"object","required":["a"],"properties":{"a":)" + objects + "}}";
  }
  EXPECT_ERROR_HAS(objects, "max_depth");
}

TEST(JsonSchemaCompiler, RefusesLimitsExceeded) {
  std::string values;
  for (int i = 0; i < 300; ++i) values += (i ? "," : "") + std::to_string(i);
  EXPECT_ERROR_HAS("{\"enum\":[" + values + "]}", "/enum", "300", "256");
  std::string props;
  for (int i = 0; i < 130; ++i) {
    props += (i ? "," : "") + std::string("\"p") + std::to_string(i) + "\":{\"type\":\"null\"}";
  }
  EXPECT_ERROR_HAS("{\"type\":\"object\",\"properties\":{" + props + "}}", "130", "128");
  std::string alternatives;
  for (int i = 0; i < 65; ++i) alternatives += (i ? "," : "") + std::string("{\"const\":1}");
  EXPECT_ERROR_HAS("{\"anyOf\":[" + alternatives + "]}", "/anyOf", "65");
  JsonConstraintLimits deep;
  deep.max_depth = 65;
  EXPECT_FALSE(error_of("{}", deep).empty());
}

TEST(JsonSchemaCompiler, RefusesAMegabyteSchemaQuickly) {
  const std::string huge = "{\"description\":\"" + std::string(1 << 20, 'x') + "\"}";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_ERROR_HAS(huge, "1048", "bytes", "65536");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  // Deeply nested JSON inside the byte limit: refused without recursing into it.
  std::string nested = "{\"const\":" + std::string(30000, '[') + std::string(30000, ']') + "}";
  EXPECT_ERROR_HAS(nested, "/const", "max_depth");
}

TEST(JsonSchemaCompiler, RefusesRefLoopsThatNestNothing) {
  EXPECT_ERROR_HAS(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},
                      "$ref":"#/$defs/a"})",
                   "loops back");
  EXPECT_ERROR_HAS(R"({"anyOf":[{"$ref":"#"},{"type":"null"}]})", "loops back");
  // Recursion that must nest forever has no finite instance.
  EXPECT_ERROR_HAS(R"({"type":"object","required":["next"],"properties":{"next":{"$ref":"#"}}})",
                   "no instance");
  // Recursion through an optional property is fine: bounded at run time.
  EXPECT_NO_THROW(compile_json_schema(
      R"({"type":"object","properties":{"next":{"$ref":"#"}},"additionalProperties":false})", {}));
}

// Every schema case with random edits (bytes dropped, duplicated, replaced): the compiler either
// compiles the result or throws EngineError, never anything else. Compiled ones must keep a
// parser that takes at least one byte.
TEST(JsonSchemaCompiler, MutatedSchemasCompileOrFailCleanly) {
  const std::filesystem::path dir =
      std::filesystem::path(SWITCHYARD_SOURCE_DIR) / "tests/local_engine/cases/json_schema";
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  const std::string alphabet = "{}[]\",:0123456789-aeflnrstu ";
  size_t compiled = 0, refused = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    auto doc = nlohmann::ordered_json::parse(text.str());
    if (!doc.contains("schema")) continue;
    const std::string base = doc["schema"].dump();
    for (int round = 0; round < 300; ++round) {
      std::string s = base;
      for (int edits = 1 + next() % 3; edits > 0 && !s.empty(); --edits) {
        const size_t at = next() % s.size();
        switch (next() % 3) {
          case 0:
            s.erase(at, 1 + next() % 4);
            break;
          case 1:
            s.insert(at, s.substr(at, next() % 12));
            break;
          default:
            s[at] = alphabet[next() % alphabet.size()];
        }
      }
      try {
        const JsonSchema schema = compile_json_schema(s, {});
        ++compiled;
        JsonParser parser(schema);
        bool takes = false;
        StackPool forks;
        for (int byte = 0; byte < 256 && !takes; ++byte) {
          ParseStack st;
          parser.start(st);
          forks.clear();
          const auto r = parser.advance(st, static_cast<uint8_t>(byte), forks);
          takes = r == JsonParser::Step::accepted ||
                  (r == JsonParser::Step::forked && forks.size() > 0);
        }
        EXPECT_TRUE(takes) << s;
      } catch (const EngineError&) {
        ++refused;
      }
    }
  }
  EXPECT_GT(compiled, 0u);
  EXPECT_GT(refused, 0u);
}

TEST(JsonSchemaCompiler, EmptyTextIsAnyObject) {
  const JsonSchema s = compile_json_schema("  ", {});
  EXPECT_EQ(s.nodes[s.root].kind, NodeKind::free_object);
}

}  // namespace
}  // namespace sy::engine::grammar
