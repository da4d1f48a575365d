#pragma once
// Shared by the grammar tests: the two vocabularies (stories260K's 512-token SentencePiece, and
// SmolLM2's 49k byte-level BPE), the schema cases in tests/local_engine/cases/json_schema/, and
// constrained decoding over random logits.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "json_schema_validator.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/token_constraint.h"
#include "switchyard/local_engine/tokenizer.h"

namespace sy::engine::testing {

inline std::filesystem::path grammar_models_dir() { return SWITCHYARD_MODELS_DIR; }

inline const Tokenizer& stories_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = [] {
    auto file = GgufFile::open(grammar_models_dir() / "stories260K/stories260K.gguf");
    return Tokenizer::from_gguf(*file);
  }();
  return *tokenizer;
}

// tokenizer.json names no EOS; the instruct model ends its turns with <|im_end|>.
inline const Tokenizer& smollm2_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = [] {
    Vocabulary vocab = vocabulary_from_tokenizer_json(grammar_models_dir() /
                                                      "smollm2-135m-instruct/tokenizer.json");
    auto it = std::find(vocab.tokens.begin(), vocab.tokens.end(), "<|im_end|>");
    vocab.eos = static_cast<TokenId>(it - vocab.tokens.begin());
    return Tokenizer::create(std::move(vocab));
  }();
  return *tokenizer;
}

struct SchemaCase {
  std::string name;
  std::string description;
  std::string schema_text;        // what compile_json_grammar gets
  nlohmann::ordered_json schema;  // what the validator checks (empty text: any object)
};

inline std::vector<SchemaCase> load_schema_cases() {
  const std::filesystem::path dir =
      std::filesystem::path(SWITCHYARD_SOURCE_DIR) / "tests/local_engine/cases/json_schema";
  std::vector<SchemaCase> cases;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    auto doc = nlohmann::ordered_json::parse(text.str());
    SchemaCase c;
    c.name = entry.path().stem().string();
    c.description = doc.at("description").get<std::string>();
    if (doc.contains("schema_text")) {
      c.schema_text = doc["schema_text"].get<std::string>();
      c.schema = {{"type", "object"}};
    } else {
      c.schema = doc.at("schema");
      c.schema_text = c.schema.dump();
    }
    cases.push_back(std::move(c));
  }
  std::sort(cases.begin(), cases.end(),
            [](const SchemaCase& a, const SchemaCase& b) { return a.name < b.name; });
  return cases;
}

// splitmix64: the same numbers on every platform.
class TestRng {
 public:
  explicit TestRng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) / static_cast<float>(1 << 24); }

 private:
  uint64_t state_;
};

// Tokens an adversary favours: ones that could end or break the structure.
inline std::vector<TokenId> breaking_tokens(const Tokenizer& tokenizer) {
  std::vector<TokenId> out;
  for (size_t i = 0; i < tokenizer.size(); ++i) {
    const TokenId id = static_cast<TokenId>(i);
    const std::string piece = tokenizer.token_to_piece(id);
    const bool control = tokenizer.vocabulary().kinds[i] == TokenKind::control;
    if (control || id == tokenizer.eos() ||
        piece.find_first_of("\"{}[],:\\") != std::string::npos) {
      out.push_back(id);
    }
  }
  return out;
}

struct DecodeOutcome {
  bool finished = false;  // complete() or EOS
  bool never_empty = true;
  bool only_text_tokens = true;  // no control token but EOS was ever allowed
  std::string text;
  size_t steps = 0;
};

// Decodes at most `max_steps` tokens from random logits through `constraint`. `adversarial`:
// the breaking tokens get a large boost, so the most breaking token allowed wins.
inline DecodeOutcome decode_random(const Tokenizer& tokenizer, TokenConstraint& constraint,
                                   const std::vector<TokenId>& breaking, uint64_t seed,
                                   bool adversarial, size_t max_steps) {
  TestRng rng(seed);
  DecodeOutcome out;
  std::vector<float> logits(tokenizer.size());
  const auto& kinds = tokenizer.vocabulary().kinds;
  for (; out.steps < max_steps; ++out.steps) {
    for (float& l : logits) l = rng.uniform() * 4.0f;
    if (adversarial) {
      for (TokenId t : breaking) logits[t] += 8.0f;
    }
    constraint.mask(logits);
    TokenId best = -1;
    for (size_t i = 0; i < logits.size(); ++i) {
      if (!std::isfinite(logits[i])) continue;
      if (kinds[i] == TokenKind::control && static_cast<TokenId>(i) != tokenizer.eos()) {
        out.only_text_tokens = false;
      }
      if (best < 0 || logits[i] > logits[best]) best = static_cast<TokenId>(i);
    }
    if (best < 0) {
      out.never_empty = false;
      return out;
    }
    if (best == tokenizer.eos()) {
      out.finished = true;
      return out;
    }
    constraint.accept(best);
    out.text += tokenizer.token_to_piece(best);
    if (constraint.complete()) {
      out.finished = true;
      return out;
    }
  }
  return out;
}

}  // namespace sy::engine::testing
