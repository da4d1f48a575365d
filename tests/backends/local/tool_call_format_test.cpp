#include "local/tool_call_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backends/chat_builders.h"

namespace sy::backends::local {
namespace {

using nlohmann::json;
using testing::weather_tool;

Tool time_tool() {
  return Tool{.name = "get_time",
              .description = "Time in a zone",
              .parameters_json =
                  R"({"type":"object","properties":{"zone":{"$ref":"#/$defs/zone"}},)"
                  R"("required":["zone"],"additionalProperties":false,)"
                  R"("$defs":{"zone":{"type":"string","enum":["utc","cet"]}}})"};
}

TEST(ToolCallSchema, OneToolIsAnObjectWithConstNameAndItsParameters) {
  json schema = json::parse(tool_call_schema({weather_tool()}));
  EXPECT_EQ(schema["type"], "object");
  EXPECT_EQ(schema["properties"]["name"]["const"], "get_weather");
  EXPECT_EQ(schema["properties"]["arguments"]["properties"]["location"]["type"], "string");
  EXPECT_EQ(schema["required"], json::array({"name", "arguments"}));
  EXPECT_EQ(schema["additionalProperties"], false);
}

TEST(ToolCallSchema, SeveralToolsAreAnyOfWithDefinitionsHoistedAndRenamed) {
  json schema = json::parse(tool_call_schema({weather_tool(), time_tool()}));
  ASSERT_EQ(schema["anyOf"].size(), 2u);
  EXPECT_EQ(schema["anyOf"][1]["properties"]["name"]["const"], "get_time");
  const json& args = schema["anyOf"][1]["properties"]["arguments"];
  EXPECT_FALSE(args.contains("$defs"));
  EXPECT_EQ(args["properties"]["zone"]["$ref"], "#/$defs/t1_zone");
  EXPECT_EQ(schema["$defs"]["t1_zone"]["enum"], json::array({"utc", "cet"}));
}

TEST(ToolCallSchema, NamedToolLeavesOutTheOthers) {
  json schema = json::parse(tool_call_schema({weather_tool(), time_tool()}, "get_time"));
  EXPECT_FALSE(schema.contains("anyOf"));
  EXPECT_EQ(schema["properties"]["name"]["const"], "get_time");
}

TEST(ToolCallSchema, ToolWithoutParametersTakesAnEmptyObject) {
  json schema = json::parse(tool_call_schema({Tool{.name = "ping"}}));
  EXPECT_EQ(schema["properties"]["arguments"]["properties"], json::object());
  EXPECT_EQ(schema["properties"]["arguments"]["additionalProperties"], false);
}

TEST(ParseToolCall, ReadsNameAndArgumentsOfAKnownTool) {
  auto call = parse_tool_call(
      " \n{\"name\": \"get_weather\", \"arguments\": {\"location\": "
      "\"Paris\"}}\n",
      {weather_tool()});
  ASSERT_TRUE(call);
  EXPECT_EQ(call->name, "get_weather");
  EXPECT_EQ(json::parse(call->arguments), json({{"location", "Paris"}}));
  EXPECT_TRUE(call->id.empty());
}

TEST(ParseToolCall, RefusesWhatIsNotExactlyACallToAnOfferedTool) {
  const std::vector<Tool> tools = {weather_tool()};
  EXPECT_FALSE(parse_tool_call("Paris is sunny.", tools));
  EXPECT_FALSE(parse_tool_call(R"({"name":"other","arguments":{}})", tools));
  EXPECT_FALSE(parse_tool_call(R"({"name":"get_weather","arguments":"x"})", tools));
  EXPECT_FALSE(parse_tool_call(R"({"name":"get_weather"})", tools));
  EXPECT_FALSE(parse_tool_call(R"({"name":"get_weather","arguments":{},"more":1})", tools));
  EXPECT_FALSE(parse_tool_call(R"({"name":"get_weather","arguments":{})", tools));  // cut
  EXPECT_FALSE(parse_tool_call(R"({"name":"get_weather","arguments":{}} and more)", tools));
  std::string deep = R"({"name":"get_weather","arguments":{"a":)" + std::string(100'000, '[');
  EXPECT_FALSE(parse_tool_call(deep, tools));
}

TEST(RenderToolCall, WritesTheFormatTheParserReads) {
  ToolCall call{.id = "call_1", .name = "get_weather", .arguments = R"({"location":"Oslo"})"};
  const std::string text = render_tool_call(call);
  EXPECT_EQ(text, R"({"name":"get_weather","arguments":{"location":"Oslo"}})");
  auto back = parse_tool_call(text, {weather_tool()});
  ASSERT_TRUE(back);
  EXPECT_EQ(back->arguments, call.arguments);
}

TEST(ToolInstructions, ListsEachToolWithItsParameters) {
  const std::string text = tool_instructions({weather_tool(), time_tool()}, "get_weather");
  EXPECT_NE(text.find("get_weather: Current weather for a city"), std::string::npos);
  EXPECT_NE(text.find("\"location\""), std::string::npos);
  EXPECT_EQ(text.find("get_time"), std::string::npos);
}

}  // namespace
}  // namespace sy::backends::local
