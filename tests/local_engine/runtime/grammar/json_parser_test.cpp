// The byte-level recognizer against hand-picked texts: what JSON it takes and what it refuses.

#include "runtime/grammar/json_parser.h"

#include <gtest/gtest.h>

#include "runtime/grammar/json_schema_compiler.h"

namespace sy::engine::grammar {
namespace {

struct Compiled {
  explicit Compiled(std::string_view schema, JsonConstraintLimits limits = {})
      : schema(compile_json_schema(schema, limits)), parser(this->schema) {}
  JsonSchema schema;
  JsonParser parser;
};

TEST(JsonParser, AnyObjectTakesJsonAndRefusesTheRest) {
  Compiled any("");
  for (const char* ok : {"{}", "{\"a\":1}", "{\"a\": [1, 2.5e-3, \"x\", null, true, {}]}",
                         " {\"\\u00e9\\ud83d\\ude00\":\"\\n\\\"\"}", "{\"k\":-0}",
                         "{\"k\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}"}) {
    EXPECT_TRUE(any.parser.accepts(ok)) << ok;
  }
  for (const char* bad :
       {"[]", "{", "{\"a\"}", "{\"a\":01}", "{\"a\":1,}", "{,}", "{\"a\":1.}", "{\"a\":.5}",
        "{\"a\":+1}", "{\"a\":tru}", "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{} ",
        "{\"a\":1}{}"}) {
    EXPECT_FALSE(any.parser.accepts(bad)) << bad;
  }
}

TEST(JsonParser, BoundsWhitespaceRuns) {
  Compiled any("");
  EXPECT_TRUE(any.parser.accepts("{ \"a\" :  1 }"));
  EXPECT_FALSE(any.parser.accepts("{   \"a\":1}"));
  JsonConstraintLimits compact;
  compact.max_whitespace = 0;
  Compiled strict("", compact);
  EXPECT_TRUE(strict.parser.accepts("{\"a\":[1,2]}"));
  EXPECT_FALSE(strict.parser.accepts("{\"a\": 1}"));
}

TEST(JsonParser, EmitsDeclaredPropertiesInSchemaOrder) {
  Compiled c(R"({"type":"object","properties":{"b":{"type":"integer"},"a":{"type":"string"},
      "c":{"type":"boolean"}},"required":["a"],"additionalProperties":false})");
  EXPECT_TRUE(c.parser.accepts(R"({"b":1,"a":"x","c":true})"));
  EXPECT_TRUE(c.parser.accepts(R"({"a":"x"})"));
  EXPECT_TRUE(c.parser.accepts(R"({"b":2,"a":""})"));
  EXPECT_FALSE(c.parser.accepts(R"({"a":"x","b":1})"));  // out of order
  EXPECT_FALSE(c.parser.accepts(R"({"b":1})"));          // required a missing
  EXPECT_FALSE(c.parser.accepts(R"({"b":1.5,"a":"x"})"));
  EXPECT_FALSE(c.parser.accepts(R"({"a":"x","d":1})"));
}

TEST(JsonParser, EnumsAndConstsAreLiterals) {
  Compiled c(R"({"enum":[1,12,"a","ab",{"x":[null]}]})");
  for (const char* ok : {"1", "12", "\"a\"", "\"ab\"", "{\"x\":[null]}"}) {
    EXPECT_TRUE(c.parser.accepts(ok)) << ok;
  }
  for (const char* bad : {"123", "2", "\"abc\"", "{\"x\": [null]}", "\"b\""}) {
    EXPECT_FALSE(c.parser.accepts(bad)) << bad;
  }
}

TEST(JsonParser, IntegersHaveNoFractionAndDigitRunsAreBounded) {
  Compiled c(R"({"type":"integer"})");
  EXPECT_TRUE(c.parser.accepts("-42"));
  EXPECT_FALSE(c.parser.accepts("4.2"));
  EXPECT_FALSE(c.parser.accepts("4e2"));
  EXPECT_TRUE(c.parser.accepts(std::string(18, '9')));
  EXPECT_FALSE(c.parser.accepts(std::string(19, '9')));
  Compiled n(R"({"type":"number"})");
  EXPECT_TRUE(n.parser.accepts("-0.5E+10"));
  EXPECT_FALSE(n.parser.accepts("1e1234"));
}

TEST(JsonParser, StringLengthCountsCodePoints) {
  Compiled c(R"({"type":"string","minLength":2,"maxLength":3})");
  EXPECT_TRUE(c.parser.accepts("\"ab\""));
  EXPECT_TRUE(c.parser.accepts("\"\xc3\xa9\\n\\ud83d\\ude00\""));
  EXPECT_FALSE(c.parser.accepts("\"a\""));
  EXPECT_FALSE(c.parser.accepts("\"abcd\""));
}

TEST(JsonParser, AnyOfKeepsEveryAlternativeThatFits) {
  Compiled c(
      R"({"anyOf":[{"type":"object","properties":{"name":{"const":"a"},"x":{"type":"integer"}},
      "required":["name","x"],"additionalProperties":false},
      {"type":"object","properties":{"name":{"const":"ab"},"y":{"type":"string"}},
      "required":["name","y"],"additionalProperties":false}]})");
  EXPECT_TRUE(c.parser.accepts(R"({"name":"a","x":1})"));
  EXPECT_TRUE(c.parser.accepts(R"({"name":"ab","y":"z"})"));
  EXPECT_FALSE(c.parser.accepts(R"({"name":"a","y":"z"})"));
  EXPECT_FALSE(c.parser.accepts(R"({"name":"ab","x":1})"));
}

TEST(JsonParser, RecursiveRefStopsAtMaxDepth) {
  JsonConstraintLimits limits;
  limits.max_depth = 3;
  Compiled c(R"({"type":"object","properties":{"next":{"$ref":"#"}},"additionalProperties":false})",
             limits);
  EXPECT_TRUE(c.parser.accepts(R"({"next":{"next":{}}})"));
  EXPECT_FALSE(c.parser.accepts(R"({"next":{"next":{"next":{}}}})"));
  // At the depth limit the key that would need more depth is refused from its first byte.
  EXPECT_FALSE(c.parser.accepts(R"({"next":{"next":{")", false));
}

TEST(JsonParser, CompleteOnlyWhenNothingCanFollow) {
  Compiled c(R"({"type":"integer"})");
  ParseStack s;
  c.parser.start(s);
  StackPool forks;
  ASSERT_EQ(c.parser.advance(s, '7', forks), JsonParser::Step::accepted);
  EXPECT_TRUE(c.parser.can_end(s));
  EXPECT_FALSE(JsonParser::complete(s));
  Compiled o(R"({"type":"object","properties":{}})");
  o.parser.start(s);
  ASSERT_EQ(o.parser.advance(s, '{', forks), JsonParser::Step::accepted);
  ASSERT_EQ(o.parser.advance(s, '}', forks), JsonParser::Step::accepted);
  EXPECT_TRUE(JsonParser::complete(s));
}

}  // namespace
}  // namespace sy::engine::grammar
