#include "runtime/grammar/token_trie.h"

#include <algorithm>

namespace sy::engine::grammar {

std::vector<std::string> TokenTrie::text_pieces(const Tokenizer& tokenizer) {
  const Vocabulary& vocab = tokenizer.vocabulary();
  std::vector<std::string> pieces(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) {
    const TokenKind kind = vocab.kinds[i];
    if (kind == TokenKind::control || kind == TokenKind::unknown || kind == TokenKind::unused) {
      continue;
    }
    pieces[i] = tokenizer.token_to_piece(static_cast<TokenId>(i));
  }
  return pieces;
}

TokenTrie::TokenTrie(std::vector<std::string> pieces,
                     const std::function<bool(std::string_view)>& keep)
    : pieces_(std::move(pieces)) {
  std::vector<TokenId> order;
  for (size_t i = 0; i < pieces_.size(); ++i) {
    if (pieces_[i].empty() || (keep && !keep(pieces_[i]))) continue;
    max_piece_ = std::max(max_piece_, pieces_[i].size());
    order.push_back(static_cast<TokenId>(i));
  }
  // Sorted by bytes, the tokens under one trie node form one contiguous run.
  std::sort(order.begin(), order.end(), [&](TokenId a, TokenId b) {
    return pieces_[a] != pieces_[b] ? pieces_[a] < pieces_[b] : a < b;
  });
  build(order, 0, order.size(), 0);
}

// The node for tokens order[lo, hi), which share their first `depth` bytes; preorder.
uint32_t TokenTrie::build(const std::vector<TokenId>& order, size_t lo, size_t hi, size_t depth) {
  const uint32_t id = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back({});
  size_t i = lo;
  const uint32_t first_token = static_cast<uint32_t>(token_ids_.size());
  while (i < hi && pieces_[order[i]].size() == depth) token_ids_.push_back(order[i++]);
  const uint32_t tokens = static_cast<uint32_t>(token_ids_.size() - first_token);
  // Group the rest by their byte at `depth`; reserve the edges first so they stay contiguous.
  std::vector<std::pair<size_t, size_t>> groups;
  while (i < hi) {
    const char byte = pieces_[order[i]][depth];
    size_t j = i;
    while (j < hi && pieces_[order[j]][depth] == byte) ++j;
    groups.emplace_back(i, j);
    i = j;
  }
  const uint32_t first_edge = static_cast<uint32_t>(edge_bytes_.size());
  for (const auto& [from, to] : groups) {
    edge_bytes_.push_back(static_cast<uint8_t>(pieces_[order[from]][depth]));
    edge_children_.push_back(0);
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    edge_children_[first_edge + g] = build(order, groups[g].first, groups[g].second, depth + 1);
  }
  nodes_[id] = {first_edge, static_cast<uint32_t>(groups.size()), first_token, tokens};
  return id;
}

}  // namespace sy::engine::grammar
