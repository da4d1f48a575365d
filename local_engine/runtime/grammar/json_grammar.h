#pragma once
// JsonGrammar over a JsonSchema and a vocabulary's TokenTrie, and the TokenConstraint it starts
// for each sequence. mask() walks the trie once per live parser stack: a shared prefix of many
// tokens is simulated once, and a subtree is left as soon as its prefix is rejected. Inside a
// string, where nearly every token is allowed, the tokens of plain text (whole UTF-8, no quote,
// backslash or control byte) are allowed from a precomputed list and only the rest are walked.

#include <memory>
#include <vector>

#include "runtime/grammar/constraint_vocabulary.h"
#include "runtime/grammar/json_parser.h"
#include "runtime/grammar/json_schema.h"
#include "runtime/grammar/token_trie.h"
#include "switchyard/local_engine/token_constraint.h"

namespace sy::engine::grammar {

class JsonGrammarImpl final : public JsonGrammar {
 public:
  JsonGrammarImpl(std::shared_ptr<const ConstraintVocabularyImpl> vocabulary, JsonSchema schema);
  std::unique_ptr<TokenConstraint> start() const override;

  const JsonSchema& schema() const { return schema_; }
  const ConstraintVocabularyImpl& vocabulary() const { return *vocabulary_; }
  const TokenTrie& trie() const { return vocabulary_->trie(); }
  const JsonParser& parser() const { return parser_; }
  TokenId eos() const { return vocabulary_->eos(); }

 private:
  std::shared_ptr<const ConstraintVocabularyImpl> vocabulary_;
  JsonSchema schema_;
  JsonParser parser_;
};

class JsonConstraint final : public TokenConstraint {
 public:
  explicit JsonConstraint(const JsonGrammarImpl& grammar);
  void mask(std::span<float> logits) override;
  void accept(TokenId token) override;
  bool complete() const override;
  // EOS may come next: the output is a whole value (a number may still grow).
  bool can_end() const;

 private:
  bool nothing_can_follow();
  void walk(const TokenTrie& trie, uint32_t node, const ParseStack& from, size_t depth);

  const JsonGrammarImpl& grammar_;
  std::vector<ParseStack> stacks_;  // the live parses, each owning its frames
  std::vector<uint8_t> allowed_;    // (n_vocab) of the last mask()
  // Per trie depth: the stack after the edge being tried, and the stacks a fork produced.
  std::vector<ParseStack> step_;
  std::vector<StackPool> forks_;
  StackPool accept_forks_;
  bool complete_ = false;
};

}  // namespace sy::engine::grammar
