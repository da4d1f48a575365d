#pragma once
// Constrained decoding: a TokenConstraint says which tokens may come next so that the output
// stays inside a language (a JSON value, a JSON Schema's instances). One object per sequence,
// used by one thread at a time.

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include "switchyard/local_engine/tokenizer.h"

namespace sy::engine {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets to -infinity the logit of every token that cannot come next: a token whose bytes would
  // leave the language, control tokens, and EOS while the output is not complete(). `logits`
  // has n_vocab entries. At least one token stays allowed (EOS once complete()).
  virtual void mask(std::span<float> logits) = 0;
  // Advances past `token`, which the last mask() allowed.
  virtual void accept(TokenId token) = 0;
  // The output so far is a whole value: nothing but EOS may follow.
  virtual bool complete() const = 0;
};

// Bounds on what a caller may ask for; a schema beyond them is refused with EngineError.
struct JsonConstraintLimits {
  size_t max_schema_bytes = 64 * 1024;
  // Nesting of objects/arrays in the schema and in the output; at most 64. A recursive $ref
  // recurses only as deep as this allows.
  size_t max_depth = 16;
  size_t max_enum_values = 256;
  size_t max_properties = 128;  // per object
  size_t max_any_of = 64;
  // Whitespace bytes allowed in a row where JSON allows whitespace (0: compact JSON only), so a
  // model cannot loop on whitespace; none ever follows the complete value.
  size_t max_whitespace = 2;
};

// A compiled JSON Schema, shared by every sequence that uses it (bulk jobs send the same schema
// many times). Thread-safe after construction.
class JsonGrammar {
 public:
  virtual ~JsonGrammar() = default;
  // A fresh constraint for one sequence, starting at the beginning of the value.
  virtual std::unique_ptr<TokenConstraint> start() const = 0;
};

// The vocabulary side of constrained decoding: every token's bytes, indexed for mask(). Building
// it takes tens of milliseconds for a 49k vocabulary, so a server builds one per model and
// compiles every schema against it. Immutable and shareable across threads; `tokenizer` must
// outlive it.
class ConstraintVocabulary {
 public:
  virtual ~ConstraintVocabulary() = default;
};
std::shared_ptr<const ConstraintVocabulary> index_constraint_vocabulary(const Tokenizer& tokenizer);

// `schema_json` is a JSON Schema (the subset OpenAI's strict mode accepts: type object / array
// / string / number / integer / boolean / null, properties, required, additionalProperties
// false, items, enum, const, anyOf, $defs/$ref, nullable types as type lists), or empty for any
// JSON object (response_format json_object). Throws EngineError naming what is unsupported or
// which limit a schema exceeds. `tokenizer` must outlive the result.
std::shared_ptr<const JsonGrammar> compile_json_grammar(const Tokenizer& tokenizer,
                                                        std::string_view schema_json,
                                                        const JsonConstraintLimits& limits = {});
// The same over a prebuilt index (well under a millisecond for a typical schema); the grammar
// keeps `vocabulary` alive.
std::shared_ptr<const JsonGrammar> compile_json_grammar(
    std::shared_ptr<const ConstraintVocabulary> vocabulary, std::string_view schema_json,
    const JsonConstraintLimits& limits = {});

}  // namespace sy::engine
