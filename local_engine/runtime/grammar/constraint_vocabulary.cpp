#include "runtime/grammar/constraint_vocabulary.h"

#include "runtime/grammar/json_parser.h"

namespace sy::engine::grammar {

ConstraintVocabularyImpl::ConstraintVocabularyImpl(const Tokenizer& tokenizer)
    : ConstraintVocabularyImpl(TokenTrie::text_pieces(tokenizer), tokenizer.eos()) {}

ConstraintVocabularyImpl::ConstraintVocabularyImpl(std::vector<std::string> pieces, TokenId eos)
    : trie_(pieces),
      non_plain_trie_(
          std::move(pieces),
          [](std::string_view piece) { return JsonParser::plain_text_code_points(piece) < 0; }),
      eos_(eos) {
  for (size_t i = 0; i < trie_.vocab_size(); ++i) {
    const std::string_view piece = trie_.piece(static_cast<TokenId>(i));
    const int64_t n = piece.empty() ? -1 : JsonParser::plain_text_code_points(piece);
    if (n < 0) continue;
    plain_tokens_.push_back(static_cast<TokenId>(i));
    plain_code_points_.push_back(static_cast<uint32_t>(n));
  }
}

}  // namespace sy::engine::grammar

namespace sy::engine {

std::shared_ptr<const ConstraintVocabulary> index_constraint_vocabulary(
    const Tokenizer& tokenizer) {
  return std::make_shared<grammar::ConstraintVocabularyImpl>(tokenizer);
}

}  // namespace sy::engine
