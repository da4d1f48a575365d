// generate() with a JSON grammar on stories260K's real logits: greedy and sampled decoding
// produce JSON that parses and validates for every schema case.

#include <gtest/gtest.h>

#include <cstdio>

#include "grammar_test_support.h"
#include "switchyard/local_engine/generate.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine::testing {
namespace {

// stories260K writes stories, not JSON: left to itself inside a string it may go on for a
// long time, so the budget is generous and a run that spends it is counted, not failed.
void generate_cases(const SamplerOptions& sampling, size_t min_finished) {
  auto model = Model::load(grammar_models_dir() / "stories260K/stories260K.gguf");
  size_t finished = 0, total = 0;
  for (const SchemaCase& c : load_schema_cases()) {
    SCOPED_TRACE(c.name + ": " + c.description);
    GenerateOptions options;
    options.max_tokens = 200;
    options.threads = 1;
    options.sampling = sampling;
    options.grammar = compile_json_grammar(model->tokenizer(), c.schema_text);
    GenerateResult r = generate(*model, "Once upon a time", options);
    ++total;
    std::printf("[ json ] %-20s %s %s\n", c.name.c_str(),
                r.finish == FinishReason::stop ? "done  " : "length",
                nlohmann::json(r.text.substr(0, 160)).dump().c_str());
    if (r.finish != FinishReason::stop) continue;
    ++finished;
    nlohmann::json value;
    ASSERT_NO_THROW(value = nlohmann::json::parse(r.text)) << r.text;
    EXPECT_EQ(SchemaValidator(c.schema).validate(value), "") << r.text;
  }
  EXPECT_GE(finished, min_finished) << "of " << total;
}

TEST(JsonGrammarGenerate, GreedyStoriesOutputIsValidJson) { generate_cases({}, 10); }

TEST(JsonGrammarGenerate, SampledStoriesOutputIsValidJson) {
  SamplerOptions sampling;
  sampling.temperature = 1.0f;
  sampling.top_p = 0.95f;
  sampling.seed = 7;
  generate_cases(sampling, 10);
}

TEST(JsonGrammarGenerate, StopsAtTheEndOfTheValue) {
  auto model = Model::load(grammar_models_dir() / "stories260K/stories260K.gguf");
  GenerateOptions options;
  options.max_tokens = 64;
  options.grammar = compile_json_grammar(
      model->tokenizer(),
      R"({"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],
          "additionalProperties":false})");
  GenerateResult r = generate(*model, "Once upon a time", options);
  EXPECT_EQ(r.finish, FinishReason::stop);
  auto value = nlohmann::json::parse(r.text);
  ASSERT_TRUE(value.contains("ok"));
  EXPECT_TRUE(value["ok"].is_boolean());
  EXPECT_EQ(r.text.back(), '}');
}

}  // namespace
}  // namespace sy::engine::testing
