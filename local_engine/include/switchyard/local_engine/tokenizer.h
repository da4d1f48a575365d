#pragma once
// Text <-> token ids. Contract: encode never fails on any byte string (unknown characters fall
// back to byte tokens or unk); a Tokenizer is immutable after construction and safe to share
// across threads. Construction throws EngineError on an unusable vocabulary.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/local_engine/vocabulary.h"

namespace sy::engine {

struct EncodeOptions {
  bool add_special = true;     // BOS/EOS as the vocabulary asks (add_bos/add_eos)
  bool parse_special = false;  // text spelling a control token becomes that token
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  virtual std::vector<TokenId> encode(std::string_view text, EncodeOptions options = {}) const = 0;
  // The bytes a token stands for (control tokens: empty unless `special`). May be a partial
  // UTF-8 sequence (byte tokens); see Utf8StreamDecoder for streaming.
  virtual std::string token_to_piece(TokenId id, bool special = false) const = 0;
  // Whole-sequence decode; drops the space SentencePiece adds before the first word.
  virtual std::string decode(const std::vector<TokenId>& ids, bool special = false) const;

  const Vocabulary& vocabulary() const { return vocab_; }
  TokenId bos() const { return vocab_.bos; }
  TokenId eos() const { return vocab_.eos; }
  size_t size() const { return vocab_.size(); }

  // Picks the implementation from vocabulary.model; throws EngineError for unsupported ones.
  static std::unique_ptr<Tokenizer> create(Vocabulary vocab);
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& file);

 protected:
  explicit Tokenizer(Vocabulary vocab) : vocab_(std::move(vocab)) {}
  Vocabulary vocab_;
};

// Turns a stream of token pieces into text that is always whole UTF-8: bytes of an incomplete
// character are held until the character completes (or flushed as-is at the end).
class Utf8StreamDecoder {
 public:
  explicit Utf8StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  std::string push(TokenId id);
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;
  bool first_ = true;
};

}  // namespace sy::engine
