#pragma once
// JsonGrammar over a JsonSchema and a vocabulary's TokenTrie, and the TokenConstraint it starts
// for each sequence. mask() walks the trie once per live parser stack: a shared prefix of many
// tokens is simulated once, and a subtree is left as soon as its prefix is rejected. Inside a
// string, where nearly every token is allowed, the tokens of plain text (whole UTF-8, no quote,
// backslash or control byte) are allowed from a precomputed list and only the rest are walked.

#include <memory>
#include <vector>

#include "runtime/grammar/json_parser.h"
#include "runtime/grammar/json_schema.h"
#include "runtime/grammar/token_trie.h"
#include "switchyard/local_engine/token_constraint.h"

namespace sy::engine::grammar {

class JsonGrammarImpl final : public JsonGrammar {
 public:
  JsonGrammarImpl(const Tokenizer& tokenizer, JsonSchema schema);
  std::unique_ptr<TokenConstraint> start() const override;

  const JsonSchema& schema() const { return schema_; }
  const TokenTrie& trie() const { return trie_; }
  // Tokens that are not plain text, for walks that start inside a string.
  const TokenTrie& non_plain_trie() const { return non_plain_trie_; }
  const std::vector<TokenId>& plain_tokens() const { return plain_tokens_; }
  const std::vector<uint32_t>& plain_code_points() const { return plain_code_points_; }
  const JsonParser& parser() const { return parser_; }
  TokenId eos() const { return eos_; }

 private:
  JsonSchema schema_;
  TokenTrie trie_;
  TokenTrie non_plain_trie_;
  std::vector<TokenId> plain_tokens_;
  std::vector<uint32_t> plain_code_points_;  // per plain token
  JsonParser parser_;
  TokenId eos_;
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
  void walk(const TokenTrie& trie, uint32_t node, const ParseStack& from, size_t depth);

  const JsonGrammarImpl& grammar_;
  std::vector<ParseStack> stacks_;  // the live parses, each owning its frames
  std::vector<uint8_t> allowed_;    // (n_vocab) of the last mask()
  // Per trie depth: the stack after the edge being tried, and the stacks a fork produced.
  std::vector<ParseStack> step_;
  std::vector<StackPool> forks_;
  StackPool accept_forks_;
};

}  // namespace sy::engine::grammar
