#pragma once
// The vocabulary index every JsonGrammar over one tokenizer shares: the byte trie of all text
// tokens, the trie of the tokens that are not plain text, and the plain-text tokens with their
// code point counts (allowed wholesale inside a string).

#include <string>
#include <vector>

#include "runtime/grammar/token_trie.h"
#include "switchyard/local_engine/token_constraint.h"

namespace sy::engine::grammar {

class ConstraintVocabularyImpl final : public ConstraintVocabulary {
 public:
  explicit ConstraintVocabularyImpl(const Tokenizer& tokenizer);

  const TokenTrie& trie() const { return trie_; }
  const TokenTrie& non_plain_trie() const { return non_plain_trie_; }
  const std::vector<TokenId>& plain_tokens() const { return plain_tokens_; }
  const std::vector<uint32_t>& plain_code_points() const { return plain_code_points_; }
  TokenId eos() const { return eos_; }

 private:
  ConstraintVocabularyImpl(std::vector<std::string> pieces, TokenId eos);

  TokenTrie trie_;
  TokenTrie non_plain_trie_;
  std::vector<TokenId> plain_tokens_;
  std::vector<uint32_t> plain_code_points_;  // per plain token
  TokenId eos_;
};

}  // namespace sy::engine::grammar
