#include "local/local_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backends/chat_builders.h"

namespace sy::backends::local {
namespace {

using testing::text_message;
using testing::weather_tool;

const engine::Model& stories() {
  static const std::unique_ptr<engine::Model> model =
      engine::Model::load(std::string(SWITCHYARD_MODELS_DIR) + "/stories260K/stories260K.gguf");
  return *model;
}

ChatRequest chat(std::vector<Message> messages) {
  ChatRequest request;
  request.model = "stories260K";
  request.messages = std::move(messages);
  return request;
}

std::string prompt_text(const PreparedRequest& prepared) {
  return stories().tokenizer().decode(prepared.sequence.prompt);
}

const PrepareOptions kPlain{.chat_template = "plain", .seed = 99};

TEST(PrepareRequest, RendersWithTheConfiguredFamilyWhenTheModelHasNoTemplate) {
  auto prepared = prepare_request(
      chat({text_message(Role::system, "Be kind."), text_message(Role::user, "Hi")}), stories(),
      kPlain);
  ASSERT_TRUE(prepared) << prepared.error().message;
  EXPECT_EQ(prepared->sequence.prompt.front(), stories().tokenizer().bos());
  EXPECT_EQ(prompt_text(*prepared), "system: Be kind.\nuser: Hi\nassistant:");
  EXPECT_FALSE(prepared->notice.empty());
  EXPECT_EQ(prepared->mode, OutputMode::text);
  EXPECT_FALSE(prepared->constrained);
}

TEST(PrepareRequest, WithoutTemplateOrFallbackSaysHowToConfigureOne) {
  auto prepared = prepare_request(chat({text_message(Role::user, "Hi")}), stories(), {});
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::invalid_request);
  EXPECT_NE(prepared.error().message.find("chat_template"), std::string::npos);
}

TEST(PrepareRequest, RefusesNonTextParts) {
  Message user = text_message(Role::user, "What is this?");
  user.content.push_back(testing::image_part("data:image/png;base64,AAAA"));
  auto prepared = prepare_request(chat({user}), stories(), kPlain);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(prepared.error().param, "messages[0].content");
}

TEST(PrepareRequest, MapsSamplingLimitsAndStops) {
  ChatRequest request = chat({text_message(Role::user, "Hi")});
  request.max_tokens = 7;
  request.temperature = 0.5;
  request.top_p = 0.9;
  request.seed = 42;
  request.frequency_penalty = 0.25;
  request.presence_penalty = 0.5;
  request.stop = {"\n", "END"};
  request.logprobs = true;
  request.top_logprobs = 3;
  auto prepared = prepare_request(request, stories(), kPlain);
  ASSERT_TRUE(prepared);
  const engine::SequenceRequest& seq = prepared->sequence;
  EXPECT_EQ(seq.max_tokens, 7u);
  EXPECT_FLOAT_EQ(seq.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(seq.sampling.top_p, 0.9f);
  EXPECT_EQ(seq.sampling.seed, 42u);
  EXPECT_FLOAT_EQ(seq.sampling.frequency_penalty, 0.25f);
  EXPECT_FLOAT_EQ(seq.sampling.presence_penalty, 0.5f);
  EXPECT_EQ(seq.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(prepared->logprobs);
  EXPECT_TRUE(seq.logprobs);  // the engine computes them only when asked
  EXPECT_EQ(seq.top_logprobs, 3u);
  EXPECT_EQ(seq.priority, engine::Priority::interactive);
}

TEST(PrepareRequest, DefaultsAreOpenAIsAndTheContext) {
  auto prepared = prepare_request(chat({text_message(Role::user, "Hi")}), stories(), kPlain);
  ASSERT_TRUE(prepared);
  EXPECT_EQ(prepared->sequence.max_tokens, stories().config().context_length);
  EXPECT_FLOAT_EQ(prepared->sequence.sampling.temperature, 1.0f);
  EXPECT_EQ(prepared->sequence.sampling.seed, 99u);
  EXPECT_FALSE(prepared->logprobs);
  EXPECT_FALSE(prepared->sequence.logprobs);
  EXPECT_EQ(prepared->sequence.top_logprobs, 0u);
  EXPECT_EQ(prepared->sequence.priority, engine::Priority::interactive);
}

TEST(PrepareRequest, BulkRequestsYieldToInteractiveOnes) {
  ChatRequest request = chat({text_message(Role::user, "Hi")});
  request.bulk = true;
  auto prepared = prepare_request(request, stories(), kPlain);
  ASSERT_TRUE(prepared);
  EXPECT_EQ(prepared->sequence.priority, engine::Priority::bulk);
}

TEST(PrepareRequest, ResponseFormatConstrainsToTheSchemaOrAnyObject) {
  ChatRequest request = chat({text_message(Role::user, "Hi")});
  request.response_format.type = ResponseFormat::Type::json_schema;
  request.response_format.schema_json = R"({"type":"object","properties":{}})";
  auto prepared = prepare_request(request, stories(), kPlain);
  ASSERT_TRUE(prepared);
  EXPECT_EQ(prepared->mode, OutputMode::json);
  EXPECT_TRUE(prepared->constrained);
  EXPECT_EQ(prepared->schema, request.response_format.schema_json);

  request.response_format = ResponseFormat{.type = ResponseFormat::Type::json_object};
  prepared = prepare_request(request, stories(), kPlain);
  ASSERT_TRUE(prepared);
  EXPECT_TRUE(prepared->constrained);
  EXPECT_EQ(prepared->schema, "");
}

TEST(PrepareRequest, RequiredOrNamedToolChoiceForcesAToolCall) {
  ChatRequest request = chat({text_message(Role::user, "Weather in Paris?")});
  request.tools = {weather_tool()};
  request.tool_choice.mode = ToolChoice::Mode::required;
  auto prepared = prepare_request(request, stories(), kPlain);
  ASSERT_TRUE(prepared);
  EXPECT_EQ(prepared->mode, OutputMode::tool_forced);
  EXPECT_TRUE(prepared->constrained);
  auto schema = nlohmann::json::parse(prepared->schema);
  EXPECT_EQ(schema["properties"]["name"]["const"], "get_weather");
  EXPECT_NE(prompt_text(*prepared).find("get_weather"), std::string::npos)
      << "the tools are described in a system turn";

  request.tool_choice = ToolChoice{.mode = ToolChoice::Mode::function, .function_name = "nope"};
  prepared = prepare_request(request, stories(), kPlain);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().param, "tool_choice");
}

TEST(PrepareRequest, AutoToolsAreOfferedButUnconstrainedAndNoneIgnoresThem) {
  ChatRequest request = chat({text_message(Role::user, "Weather in Paris?")});
  request.tools = {weather_tool()};
  auto prepared = prepare_request(request, stories(), kPlain);
  ASSERT_TRUE(prepared);
  EXPECT_EQ(prepared->mode, OutputMode::tool_auto);
  EXPECT_FALSE(prepared->constrained);
  EXPECT_EQ(prepared->tools.size(), 1u);

  request.tool_choice.mode = ToolChoice::Mode::none;
  prepared = prepare_request(request, stories(), kPlain);
  ASSERT_TRUE(prepared);
  EXPECT_EQ(prepared->mode, OutputMode::text);
  EXPECT_EQ(prompt_text(*prepared).find("get_weather"), std::string::npos);
}

TEST(PrepareRequest, ToolTurnsBecomeTextTheModelCanRead) {
  ChatRequest request = chat(
      {text_message(Role::user, "Weather in Paris?"),
       testing::assistant_calls(
           "",
           {ToolCall{.id = "c1", .name = "get_weather", .arguments = R"({"location":"Paris"})"}}),
       testing::tool_result("c1", "sunny"), text_message(Role::user, "Thanks")});
  request.tools = {weather_tool()};
  request.tool_choice.mode = ToolChoice::Mode::none;
  auto prepared = prepare_request(request, stories(), kPlain);
  ASSERT_TRUE(prepared) << prepared.error().message;
  EXPECT_EQ(prompt_text(*prepared),
            "user: Weather in Paris?\n"
            "assistant: {\"name\":\"get_weather\",\"arguments\":{\"location\":\"Paris\"}}\n"
            "user: Result of get_weather: sunny\n\nThanks\n"
            "assistant:");
}

TEST(PrepareRequest, LegacyCompletionsTakeTheRawPrompt) {
  ChatRequest request;
  request.surface = ApiSurface::completions;
  request.prompt = "Once upon a time";
  auto prepared = prepare_request(request, stories(), {});
  ASSERT_TRUE(prepared);
  EXPECT_EQ(prepared->sequence.prompt,
            stories().tokenizer().encode("Once upon a time", {.add_special = true}));
}

}  // namespace
}  // namespace sy::backends::local
