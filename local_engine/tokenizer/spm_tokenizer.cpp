#include "tokenizer/spm_tokenizer.h"

#include <cstdio>
#include <queue>

#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;  // a stray continuation byte stands alone
}

// A piece of the text being merged; merged-away symbols keep length 0.
struct Symbol {
  int prev;
  int next;
  size_t start;
  size_t length;
};

struct Bigram {
  int left;
  int right;
  float score;
  size_t length;
  // The priority queue pops the highest score, then the leftmost pair.
  bool operator<(const Bigram& o) const {
    return score < o.score || (score == o.score && left > o.left);
  }
};

}  // namespace

SpmTokenizer::SpmTokenizer(Vocabulary vocab) : Tokenizer(std::move(vocab)), splitter_(vocab_) {
  ids_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) ids_[vocab_.tokens[i]] = static_cast<TokenId>(i);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    byte_tokens_[b] = find(name);
    if (byte_tokens_[b] < 0) byte_tokens_[b] = vocab_.unk;
  }
}

TokenId SpmTokenizer::find(std::string_view piece) const {
  auto it = ids_.find(std::string(piece));
  return it == ids_.end() ? -1 : it->second;
}

std::vector<TokenId> SpmTokenizer::encode(std::string_view text, EncodeOptions options) const {
  std::vector<TokenId> out;
  bool prev_special = true;  // the first fragment gets the space prefix
  if (options.add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  for (const TextFragment& f : splitter_.split(text, options.parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    std::string escaped;
    escaped.reserve(f.text.size() + 8);
    if (vocab_.add_space_prefix && prev_special) escaped += kSpaceMark;
    for (char c : f.text) {
      if (c == ' ') {
        escaped += kSpaceMark;
      } else {
        escaped += c;
      }
    }
    encode_fragment(escaped, out);
    prev_special = false;
  }
  if (options.add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
  return out;
}

void SpmTokenizer::encode_fragment(std::string_view text, std::vector<TokenId>& out) const {
  std::vector<Symbol> symbols;
  for (size_t at = 0; at < text.size();) {
    size_t n = std::min(utf8_length(static_cast<unsigned char>(text[at])), text.size() - at);
    // A lead byte without its continuation bytes stands alone, so it cannot swallow the
    // escaped space after it (decode would then give back U+2581's bytes, not the space).
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(text[at + k]) & 0xC0) != 0x80) {
        n = 1;
        break;
      }
    }
    int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, index + 1, at, n});
    at += n;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Bigram> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    TokenId id = find(text.substr(l.start, l.length + r.length));
    if (id < 0) return;
    queue.push({left, right, vocab_.scores[id], l.length + r.length});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    // Stale entry: one side was merged into something else since this pair was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != b.length ||
        left.next != b.right) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  // Every merge produced a token, so only unmerged characters can lack one.
  for (int i = 0; i >= 0; i = symbols[i].next) {
    std::string_view piece = text.substr(symbols[i].start, symbols[i].length);
    TokenId id = find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (unsigned char c : piece) out.push_back(byte_tokens_[c]);
  }
}

std::string SpmTokenizer::token_to_piece(TokenId id, bool special) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.size()) return {};
  const std::string& token = vocab_.tokens[id];
  switch (vocab_.kinds[id]) {
    case TokenKind::control:
    case TokenKind::unknown:
    case TokenKind::unused:
      return special ? token : std::string();
    case TokenKind::byte: {
      unsigned value = 0;
      if (token.size() == 6 && std::sscanf(token.c_str(), "<0x%02X>", &value) == 1) {
        return std::string(1, static_cast<char>(value));
      }
      return token;
    }
    default:
      break;
  }
  std::string piece;
  piece.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    if (token.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
      piece += ' ';
      i += kSpaceMark.size();
    } else {
      piece += token[i++];
    }
  }
  return piece;
}

}  // namespace sy::engine
