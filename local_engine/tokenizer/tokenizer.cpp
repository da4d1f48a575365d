#include "switchyard/local_engine/tokenizer.h"

#include <utility>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"

namespace sy::engine {

std::string Tokenizer::decode(const std::vector<TokenId>& ids, bool special) const {
  std::string text;
  for (TokenId id : ids) text += token_to_piece(id, special);
  if (vocab_.add_space_prefix && !text.empty() && text.front() == ' ') text.erase(0, 1);
  return text;
}

std::unique_ptr<Tokenizer> Tokenizer::create(Vocabulary vocab) {
  if (vocab.model == "llama") return std::make_unique<SpmTokenizer>(std::move(vocab));
  if (vocab.model == "gpt2") return std::make_unique<BpeTokenizer>(std::move(vocab));
  throw EngineError("tokenizer model " + vocab.model + " is not supported");
}

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& file) {
  return create(vocabulary_from_gguf(file));
}

namespace {

// Bytes at the end of `s` that start a UTF-8 character not yet complete.
size_t incomplete_tail(const std::string& s) {
  for (size_t back = 1; back <= std::min<size_t>(3, s.size()); ++back) {
    unsigned char c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation: keep looking for the lead byte
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace

std::string Utf8StreamDecoder::push(TokenId id) {
  std::string piece = tokenizer_.token_to_piece(id);
  if (first_ && !piece.empty()) {
    first_ = false;
    if (tokenizer_.vocabulary().add_space_prefix && piece.front() == ' ') piece.erase(0, 1);
  }
  pending_ += piece;
  size_t keep = incomplete_tail(pending_);
  std::string ready = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return ready;
}

std::string Utf8StreamDecoder::finish() { return std::exchange(pending_, {}); }

}  // namespace sy::engine
