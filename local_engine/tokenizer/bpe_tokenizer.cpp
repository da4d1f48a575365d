#include "tokenizer/bpe_tokenizer.h"

#include <queue>

#include "switchyard/local_engine/engine_error.h"
#include "tokenizer/unicode.h"

namespace sy::engine {
namespace {

struct Symbol {
  int prev;
  int next;
  size_t start;   // byte offset into the spelled word
  size_t length;  // bytes; 0 once merged away
};

struct Pair {
  int left;
  int right;
  int rank;
  size_t length;
  // The priority queue pops the lowest rank, then the leftmost pair.
  bool operator<(const Pair& o) const { return rank > o.rank || (rank == o.rank && left > o.left); }
};

}  // namespace

BpeTokenizer::BpeTokenizer(Vocabulary vocab)
    : Tokenizer(std::move(vocab)), pre_(PreTokenizer::for_name(vocab_.pre)), splitter_(vocab_) {
  ids_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) ids_[vocab_.tokens[i]] = static_cast<TokenId>(i);
  merge_ranks_.reserve(vocab_.merges.size());
  for (size_t i = 0; i < vocab_.merges.size(); ++i) {
    merge_ranks_.emplace(vocab_.merges[i], static_cast<int>(i));
  }
  // GPT-2's byte alphabet: printable Latin-1 bytes stand for themselves, the rest map to
  // U+0100 upwards in byte order.
  uint32_t next_free = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    const uint32_t cp = printable ? b : next_free++;
    byte_chars_[b] = unicode::encode_utf8(cp);
    char_bytes_[cp] = static_cast<uint8_t>(b);
  }
}

TokenId BpeTokenizer::find(const std::string& text) const {
  auto it = ids_.find(text);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<TokenId> BpeTokenizer::encode(std::string_view text, EncodeOptions options) const {
  std::vector<TokenId> out;
  if (options.add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  for (const TextFragment& f : splitter_.split(text, options.parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      continue;
    }
    for (std::string_view word : pre_.split(f.text)) encode_word(word, out);
  }
  if (options.add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
  return out;
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  std::string spelled;
  std::vector<Symbol> symbols;
  for (unsigned char b : word) {
    const std::string& ch = byte_chars_[b];
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, index + 1, spelled.size(), ch.size()});
    spelled += ch;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Pair> queue;
  std::string key;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    key.assign(spelled, l.start, l.length);
    key += ' ';
    key.append(spelled, r.start, r.length);
    auto it = merge_ranks_.find(key);
    if (it == merge_ranks_.end()) return;
    queue.push({left, right, it->second, l.length + r.length});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Symbol& left = symbols[p.left];
    Symbol& right = symbols[p.right];
    if (left.length == 0 || right.length == 0 || left.next != p.right ||
        left.length + right.length != p.length) {
      continue;  // stale: a side was merged since this pair was queued
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = p.left;
    try_add(left.prev, p.left);
    try_add(p.left, left.next);
  }

  for (int i = 0; i >= 0; i = symbols[i].next) {
    const std::string piece = spelled.substr(symbols[i].start, symbols[i].length);
    TokenId id = find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Not in the vocabulary (a byte its alphabet lacks): the single characters that exist, then
    // unk if it has one; otherwise the byte is dropped, as llama.cpp and HF do without
    // byte fallback.
    for (const auto& cp : unicode::decode_utf8(piece)) {
      TokenId b = find(unicode::encode_utf8(cp.value));
      if (b < 0) b = vocab_.unk;
      if (b >= 0) out.push_back(b);
    }
  }
}

std::string BpeTokenizer::token_to_piece(TokenId id, bool special) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.size()) return {};
  const std::string& token = vocab_.tokens[id];
  switch (vocab_.kinds[id]) {
    case TokenKind::control:
    case TokenKind::unknown:
    case TokenKind::unused:
      return special ? token : std::string();
    case TokenKind::user_defined:
      return token;  // spelled as plain text
    default:
      break;
  }
  std::string bytes;
  for (const auto& cp : unicode::decode_utf8(token)) {
    auto it = char_bytes_.find(cp.value);
    if (it != char_bytes_.end()) {
      bytes += static_cast<char>(it->second);
    } else {
      bytes += token.substr(cp.offset, cp.length);
    }
  }
  return bytes;
}

}  // namespace sy::engine
