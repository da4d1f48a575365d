#pragma once
// SentencePiece-style tokenizer over GGUF metadata (tokenizer.ggml.model = "llama"): spaces
// become U+2581, an optional space is prefixed, then adjacent pieces are merged greedily by the
// score of the merged token (highest first, leftmost on ties); characters left without a token
// fall back to <0xXX> byte tokens.

#include <string>
#include <unordered_map>

#include "switchyard/local_engine/tokenizer.h"
#include "tokenizer/special_token_splitter.h"

namespace sy::engine {

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(Vocabulary vocab);

  std::vector<TokenId> encode(std::string_view text, EncodeOptions options) const override;
  std::string token_to_piece(TokenId id, bool special) const override;

 private:
  void encode_fragment(std::string_view text, std::vector<TokenId>& out) const;
  TokenId find(std::string_view piece) const;

  std::unordered_map<std::string, TokenId> ids_;
  TokenId byte_tokens_[256];
  SpecialTokenSplitter splitter_;
};

}  // namespace sy::engine
