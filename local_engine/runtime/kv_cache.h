#pragma once
// The paged KV cache that every sequence of a LlamaCpu shares: a pool of fixed-size blocks of
// `block_tokens` positions, each block holding every layer's keys and values for its positions.
// A sequence's KvSequence lists its blocks in position order (block i holds positions
// [i * block_tokens, (i + 1) * block_tokens)).
//
// Blocks are reference-counted so that sequences with a common prompt prefix share its full
// blocks (the prefix cache): a full block is published under a hash of every token from position
// 0 to its end, and stays cached after its last user releases it until a new allocation needs
// the memory (least recently used first). A partly filled block is never shared.
//
// Not thread-safe: one thread (the serving engine's step thread, or a LlamaCpu's owner) uses it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "switchyard/local_engine/model.h"

namespace sy::engine {

enum class KvCacheType : uint8_t { f16, f32 };

using BlockId = uint32_t;

struct KvCacheOptions {
  size_t block_tokens = 16;
  size_t max_blocks = 0;  // the memory budget, in blocks (block_bytes() each); > 0
  KvCacheType type = KvCacheType::f16;
};

// One sequence's blocks. Owned by its user, but only KvCache changes it.
struct KvSequence {
  std::vector<BlockId> blocks;
  size_t length = 0;     // positions stored (the caller advances it after a forward pass)
  size_t published = 0;  // leading blocks already published in the prefix cache
  uint64_t prefix_hash = 0;  // hash of the tokens of the published blocks
};

struct PrefixCacheStats {
  uint64_t lookup_tokens = 0;  // prompt tokens looked up by attach_prefix
  uint64_t hit_tokens = 0;     // of which found in the cache (their forward pass skipped)
};

class KvCache {
 public:
  KvCache(const ModelConfig& config, KvCacheOptions options);

  // Bytes one block takes: keys and values of every layer for block_tokens positions.
  static size_t block_bytes(const ModelConfig& config, size_t block_tokens, KvCacheType type);

  size_t block_tokens() const { return options_.block_tokens; }
  KvCacheType type() const { return options_.type; }
  size_t total_blocks() const { return options_.max_blocks; }
  size_t used_blocks() const;  // referenced by at least one sequence
  size_t free_blocks() const { return total_blocks() - used_blocks(); }  // incl. cached ones
  size_t cached_blocks() const;  // unreferenced but still holding a published prefix
  const PrefixCacheStats& prefix_stats() const { return stats_; }

  // For an empty `seq`: takes the longest run of cached full blocks that starts `prompt`,
  // covering at most prompt.size() - 1 tokens (the last prompt token must still run to give
  // logits), sets seq.length to the tokens covered and returns it. Counts the lookup in stats.
  size_t attach_prefix(KvSequence& seq, std::span<const TokenId> prompt);

  // Makes `seq` own blocks for every position below `length`. False, with nothing changed,
  // when the pool cannot supply them even after evicting every unreferenced cached block.
  bool reserve(KvSequence& seq, size_t length);

  // Publishes seq's full blocks not yet published; `tokens` are the tokens at positions
  // [0, seq.length) of the sequence (prompt and generated).
  void publish(KvSequence& seq, std::span<const TokenId> tokens);

  // Drops seq's references (published blocks stay cached) and empties it.
  void release(KvSequence& seq);

  // Storage of one block for one layer, (block_tokens, n_kv_heads * head_dim) row-major: the
  // f16 pointers when type() is f16, the f32 ones otherwise.
  uint16_t* keys_f16(BlockId block, size_t layer);
  uint16_t* values_f16(BlockId block, size_t layer);
  float* keys_f32(BlockId block, size_t layer);
  float* values_f32(BlockId block, size_t layer);
  const uint16_t* keys_f16(BlockId block, size_t layer) const;
  const uint16_t* values_f16(BlockId block, size_t layer) const;
  const float* keys_f32(BlockId block, size_t layer) const;
  const float* values_f32(BlockId block, size_t layer) const;

 private:
  // The implementation's choice; see kv_cache.cpp.
  KvCacheOptions options_;
  PrefixCacheStats stats_;
};

}  // namespace sy::engine
