// replace_top_level_member keeps every byte but the replaced value: the native pass-through
// depends on it for signed thinking blocks.

#include <gtest/gtest.h>

#include "common/json_splice.h"

namespace sy::backends::detail {
namespace {

TEST(JsonSplice, ReplacesOnlyTheTopLevelValue) {
  std::string body =
      R"({ "messages":[{"role":"user","content":"model"}],"model" : "fast",)"
      R"( "metadata":{"model":"x"}, "n": 1.50e0 })";
  auto out = replace_top_level_member(body, "model", R"("claude-haiku-4-5")");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out,
            R"({ "messages":[{"role":"user","content":"model"}],"model" : "claude-haiku-4-5",)"
            R"( "metadata":{"model":"x"}, "n": 1.50e0 })");
}

TEST(JsonSplice, MatchesEscapedKeysAndSkipsTrickyStrings) {
  std::string body = R"({"a":"}\"{[","mod\u0065l":"fast","b":[{"c":"]"}]})";
  auto out = replace_top_level_member(body, "model", R"("m")");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"a":"}\"{[","mod\u0065l":"m","b":[{"c":"]"}]})");
}

TEST(JsonSplice, ReplacesEveryDuplicateAndNonStringValues) {
  auto out = replace_top_level_member(R"({"model":1,"x":true,"model":null})", "model", R"("m")");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"model":"m","x":true,"model":"m"})");
}

TEST(JsonSplice, RefusesWhatIsNotAnObjectWithTheMember) {
  EXPECT_FALSE(replace_top_level_member(R"(["model","fast"])", "model", "1"));
  EXPECT_FALSE(replace_top_level_member(R"({"nested":{"model":"fast"}})", "model", "1"));
  EXPECT_FALSE(replace_top_level_member(R"({"model":"unterminated)", "model", "1"));
  EXPECT_FALSE(replace_top_level_member("", "model", "1"));
}

}  // namespace
}  // namespace sy::backends::detail
