#pragma once
// Byte-level BPE (tokenizer.ggml.model = "gpt2"): the pre-tokenizer named by tokenizer.ggml.pre
// cuts the text into words; each word's bytes are spelled with GPT-2's printable byte alphabet
// and merged pair by pair in merge-rank order (lowest rank first, leftmost on ties).

#include <array>
#include <string>
#include <unordered_map>

#include "switchyard/local_engine/tokenizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/special_token_splitter.h"

namespace sy::engine {

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(Vocabulary vocab);

  std::vector<TokenId> encode(std::string_view text, EncodeOptions options) const override;
  std::string token_to_piece(TokenId id, bool special) const override;

 private:
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;
  TokenId find(const std::string& text) const;

  std::unordered_map<std::string, TokenId> ids_;
  std::unordered_map<std::string, int> merge_ranks_;  // "left right" -> rank
  std::array<std::string, 256> byte_chars_;           // byte -> its printable spelling
  std::unordered_map<uint32_t, uint8_t> char_bytes_;  // printable code point -> byte
  PreTokenizer pre_;
  SpecialTokenSplitter splitter_;
};

}  // namespace sy::engine
