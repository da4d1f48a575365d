// Constrained decoding over random and adversarial logits, for every schema case and both test
// vocabularies: the mask never empties, never lets a control token through, and every output
// that finishes parses and validates against its schema.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "grammar_test_support.h"
#include "runtime/grammar/json_grammar.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine::testing {
namespace {

struct Tally {
  size_t runs = 0;
  size_t finished = 0;
};

// Runs `seeds` plain and `seeds` adversarial decodes of every case; returns per-case tallies.
void check_cases(const Tokenizer& tokenizer, size_t seeds, size_t max_steps) {
  const auto breaking = breaking_tokens(tokenizer);
  for (const SchemaCase& c : load_schema_cases()) {
    SCOPED_TRACE(c.name + ": " + c.description);
    auto grammar = compile_json_grammar(tokenizer, c.schema_text);
    SchemaValidator validator(c.schema);
    Tally plain, adversarial;
    for (uint64_t seed = 0; seed < 2 * seeds; ++seed) {
      const bool hostile = seed % 2 == 1;
      auto constraint = grammar->start();
      DecodeOutcome out =
          decode_random(tokenizer, *constraint, breaking, seed * 7919 + 1, hostile, max_steps);
      ASSERT_TRUE(out.never_empty) << "mask left nothing after " << out.text;
      ASSERT_TRUE(out.only_text_tokens) << "control token allowed after " << out.text;
      Tally& t = hostile ? adversarial : plain;
      ++t.runs;
      if (!out.finished) continue;
      ++t.finished;
      nlohmann::json value;
      ASSERT_NO_THROW(value = nlohmann::json::parse(out.text)) << out.text;
      EXPECT_EQ(validator.validate(value), "") << out.text;
    }
    // The adversary pushes towards closing tokens, so most of its runs finish.
    EXPECT_GE(adversarial.finished * 2, adversarial.runs)
        << "finished " << adversarial.finished << " of " << adversarial.runs;
  }
}

TEST(JsonGrammar, RandomLogitsOverStoriesVocabularyGiveValidJson) {
  check_cases(stories_tokenizer(), 24, 400);
}

TEST(JsonGrammar, RandomLogitsOverSmolLm2VocabularyGiveValidJson) {
  check_cases(smollm2_tokenizer(), 3, 160);
}

TEST(JsonGrammar, EosOnlyOnceTheValueIsWhole) {
  const Tokenizer& tok = stories_tokenizer();
  auto grammar = compile_json_grammar(tok, R"({"type":"object","properties":{}})");
  auto c = grammar->start();
  std::vector<float> logits(tok.size(), 0.0f);
  c->mask(logits);
  EXPECT_TRUE(std::isinf(logits[tok.eos()]));
  EXPECT_TRUE(std::isinf(logits[tok.bos()]));
  for (TokenId t : tok.encode("{}", {.add_special = false})) c->accept(t);
  EXPECT_TRUE(c->complete());
  std::fill(logits.begin(), logits.end(), 0.0f);
  c->mask(logits);
  size_t allowed = 0;
  for (float l : logits) allowed += std::isfinite(l);
  EXPECT_EQ(allowed, 1u);
  EXPECT_TRUE(std::isfinite(logits[tok.eos()]));
}

TEST(JsonGrammar, NumberRootAllowsEosAndMoreDigits) {
  const Tokenizer& tok = stories_tokenizer();
  auto grammar = compile_json_grammar(tok, R"({"type":"integer"})");
  auto c = grammar->start();
  for (TokenId t : tok.encode("4", {.add_special = false})) c->accept(t);
  std::vector<float> logits(tok.size(), 0.0f);
  c->mask(logits);
  EXPECT_FALSE(c->complete());
  EXPECT_TRUE(std::isfinite(logits[tok.eos()]));
  c->accept(tok.eos());
  EXPECT_TRUE(c->complete());
}

TEST(JsonGrammar, AcceptOfARefusedTokenThrows) {
  const Tokenizer& tok = stories_tokenizer();
  auto grammar = compile_json_grammar(tok, "");
  auto c = grammar->start();
  const auto ids = tok.encode("]", {.add_special = false});
  ASSERT_FALSE(ids.empty());
  EXPECT_THROW(c->accept(ids.back()), EngineError);
  EXPECT_THROW(c->accept(tok.eos()), EngineError);
}

// Mask time per step on the 49k vocabulary in the states that cost most: inside a free string
// (nearly every token allowed) and at a value position of the any-object grammar.
TEST(JsonGrammar, MaskIsFastOnA49kVocabulary) {
  const Tokenizer& tok = smollm2_tokenizer();
  const auto compile_start = std::chrono::steady_clock::now();
  auto grammar = compile_json_grammar(tok, "");
  const double compile_ms = std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - compile_start)
                                .count();
  const auto* impl = dynamic_cast<const grammar::JsonGrammarImpl*>(grammar.get());
  ASSERT_NE(impl, nullptr);
  std::vector<float> logits(tok.size());
  for (const char* prefix : {"", "{\"key\": \"some text", "{\"a\": [1, {\"b\": ", "{\"k\": 12"}) {
    auto c = grammar->start();
    for (TokenId t : tok.encode(prefix, {.add_special = false})) c->accept(t);
    constexpr int kSteps = 20;
    const auto start = std::chrono::steady_clock::now();
    size_t allowed = 0;
    for (int i = 0; i < kSteps; ++i) {
      std::fill(logits.begin(), logits.end(), 0.0f);
      c->mask(logits);
    }
    const double ms = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count() /
                      kSteps;
    for (float l : logits) allowed += std::isfinite(l);
    std::printf("[ mask ] 49k vocab (%zu trie nodes), after '%s': %.3f ms/step, %zu allowed "
                "(grammar compile %.1f ms)\n",
                impl->trie().node_count(), prefix, ms, allowed, compile_ms);
    EXPECT_GT(allowed, 0u);
    // Generous for a loaded 2-core CI machine; the printout is the measurement.
    EXPECT_LT(ms, 50.0);
  }
}

}  // namespace
}  // namespace sy::engine::testing
