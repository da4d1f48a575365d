#pragma once
// The vocabulary as a byte trie: every token that stands for text (not control, unknown or
// unused tokens, nor tokens with no bytes) under the path of its bytes, as the tokenizer
// decodes it (SentencePiece's U+2581 as a space, <0xNN> byte tokens as that byte, byte-level
// BPE's printable stand-ins as the bytes they stand for). Immutable after construction.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/local_engine/tokenizer.h"

namespace sy::engine::grammar {

class TokenTrie {
 public:
  struct Node {
    uint32_t first_edge;
    uint32_t edges;
    uint32_t first_token;
    uint32_t tokens;
  };

  // The bytes of every token id: empty for control, unknown and unused tokens.
  static std::vector<std::string> text_pieces(const Tokenizer& tokenizer);

  explicit TokenTrie(const Tokenizer& tokenizer) : TokenTrie(text_pieces(tokenizer)) {}
  // `keep`, when given, picks which pieces go into the trie (piece() still has them all).
  explicit TokenTrie(std::vector<std::string> pieces,
                     const std::function<bool(std::string_view)>& keep = {});

  static constexpr uint32_t kRoot = 0;
  const Node& node(uint32_t id) const { return nodes_[id]; }
  uint8_t edge_byte(uint32_t edge) const { return edge_bytes_[edge]; }
  uint32_t edge_child(uint32_t edge) const { return edge_children_[edge]; }
  const TokenId* tokens(const Node& n) const { return token_ids_.data() + n.first_token; }

  size_t vocab_size() const { return pieces_.size(); }
  size_t node_count() const { return nodes_.size(); }
  size_t max_piece_length() const { return max_piece_; }
  // The bytes of `id`; empty for tokens not in the trie.
  std::string_view piece(TokenId id) const { return pieces_[static_cast<size_t>(id)]; }

 private:
  uint32_t build(const std::vector<TokenId>& order, size_t lo, size_t hi, size_t depth);

  std::vector<std::string> pieces_;
  std::vector<Node> nodes_;
  std::vector<uint8_t> edge_bytes_;
  std::vector<uint32_t> edge_children_;
  std::vector<TokenId> token_ids_;
  size_t max_piece_ = 0;
};

}  // namespace sy::engine::grammar
