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
#include <memory>
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
  // Bits of the prefix hash used as the cache key, 1..64. Tests lower it to force collisions;
  // lookups compare the tokens themselves, so a collision only costs a miss.
  unsigned hash_bits = 64;
  // Touch every page of the storage now (MADV_POPULATE_WRITE), so that no forward pass pays
  // first-touch page faults: without it a step where many sequences cross into fresh blocks at
  // once faults them all in (64 streams: ~23 MB in one step, +30-45 ms on a 50 ms step, every
  // 16th step). The memory is then resident from the start.
  bool prefault = false;
};

// One sequence's blocks. Owned by its user, but only KvCache changes it.
struct KvSequence {
  std::vector<BlockId> blocks;
  size_t length = 0;         // positions stored (the caller advances it after a forward pass)
  size_t published = 0;      // leading blocks already published in the prefix cache
  uint64_t prefix_hash = 0;  // hash of the tokens of the published blocks
};

struct PrefixCacheStats {
  uint64_t lookup_tokens = 0;  // prompt tokens looked up by attach_prefix
  uint64_t hit_tokens = 0;     // of which found in the cache (their forward pass skipped)
};

class KvCache {
 public:
  // Throws EngineError for a zero block size or budget, or a model without KV heads.
  KvCache(const ModelConfig& config, KvCacheOptions options);
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Bytes one block takes: keys and values of every layer for block_tokens positions.
  static size_t block_bytes(const ModelConfig& config, size_t block_tokens, KvCacheType type);

  size_t block_tokens() const { return options_.block_tokens; }
  size_t n_layers() const { return n_layers_; }
  size_t kv_width() const { return kv_width_; }  // n_kv_heads * head_dim
  KvCacheType type() const { return options_.type; }
  size_t total_blocks() const { return options_.max_blocks; }
  size_t used_blocks() const { return used_; }  // referenced by at least one sequence
  size_t free_blocks() const { return total_blocks() - used_blocks(); }  // incl. cached ones
  size_t cached_blocks() const { return cached_; }  // unreferenced, holding a published prefix
  const PrefixCacheStats& prefix_stats() const { return stats_; }

  // For an empty `seq`: takes the longest run of cached full blocks that starts `prompt`,
  // covering at most prompt.size() - 1 tokens (the last prompt token must still run to give
  // logits), sets seq.length to the tokens covered and returns it. Counts the lookup in stats.
  size_t attach_prefix(KvSequence& seq, std::span<const TokenId> prompt);

  // Makes `seq` own blocks for every position below `length`. False, with nothing changed,
  // when the pool cannot supply them even after evicting every unreferenced cached block.
  bool reserve(KvSequence& seq, size_t length);

  // Publishes seq's full blocks not yet published; `tokens` are the tokens at positions
  // [0, seq.length) of the sequence (prompt and generated; more are ignored). A block whose
  // prefix is already cached (another sequence computed the same tokens) is replaced in
  // seq.blocks by the cached one, which holds the same keys and values, and freed.
  void publish(KvSequence& seq, std::span<const TokenId> tokens);

  // Drops seq's references (published blocks stay cached) and empties it.
  void release(KvSequence& seq);

  // F16 keys or values (n) -> F32, the values of kernels::fp16_to_fp32 element by element but
  // four at a time in portable vector code (attention widens every value row it reads).
  static void widen_f16(const uint16_t* in, float* out, size_t n);

  // Storage of one block for one layer, (block_tokens, n_kv_heads * head_dim) row-major: the
  // f16 pointers when type() is f16, the f32 ones otherwise. Not range-checked (hot path).
  uint16_t* keys_f16(BlockId block, size_t layer) { return slot<uint16_t>(block, layer, 0); }
  uint16_t* values_f16(BlockId block, size_t layer) { return slot<uint16_t>(block, layer, 1); }
  float* keys_f32(BlockId block, size_t layer) { return slot<float>(block, layer, 0); }
  float* values_f32(BlockId block, size_t layer) { return slot<float>(block, layer, 1); }
  const uint16_t* keys_f16(BlockId block, size_t layer) const {
    return slot<uint16_t>(block, layer, 0);
  }
  const uint16_t* values_f16(BlockId block, size_t layer) const {
    return slot<uint16_t>(block, layer, 1);
  }
  const float* keys_f32(BlockId block, size_t layer) const { return slot<float>(block, layer, 0); }
  const float* values_f32(BlockId block, size_t layer) const {
    return slot<float>(block, layer, 1);
  }

 private:
  static constexpr BlockId kNoBlock = UINT32_MAX;
  struct BlockInfo {
    uint32_t refs = 0;
    bool cached = false;  // published: in index_, its tokens in tokens_
    // Bumped whenever the block leaves the prefix cache, so that a cached child never matches
    // a later, different prefix that reuses its parent's id.
    uint32_t epoch = 0;
    uint64_t key = 0;           // index_ key it is published under
    BlockId parent = kNoBlock;  // the cached block before it; kNoBlock for position 0
    uint32_t parent_epoch = 0;
    BlockId lru_prev = kNoBlock, lru_next = kNoBlock;  // while cached and unreferenced
  };

  template <class T>
  T* slot(BlockId block, size_t layer, size_t which) const {
    const size_t at = ((size_t{block} * n_layers_ + layer) * 2 + which) * slot_elements_;
    return reinterpret_cast<T*>(storage_.get() + at * element_bytes_);
  }
  uint64_t key(uint64_t hash) const { return hash & key_mask_; }
  // The cached block holding `tokens` right after the cached block `parent`, or kNoBlock.
  BlockId find_cached(uint64_t hash, BlockId parent, std::span<const TokenId> tokens) const;
  BlockId take_block();         // a free block, evicting the least recently used cached one
  void acquire(BlockId block);  // one more reference to a cached block
  void drop(BlockId block);     // one reference less; cached when published, else free
  void lru_push(BlockId block);
  void lru_remove(BlockId block);

  KvCacheOptions options_;
  PrefixCacheStats stats_;
  size_t n_layers_ = 0, kv_width_ = 0;
  size_t slot_elements_ = 0;  // block_tokens * kv_width
  size_t element_bytes_ = 0;  // 2 (f16) or 4 (f32)
  uint64_t key_mask_ = 0;
  // (total_blocks, n_layers, 2 = keys/values, block_tokens, kv_width) elements; left
  // uninitialized, so untouched blocks cost no memory.
  std::unique_ptr<std::byte[]> storage_;
  std::vector<BlockInfo> blocks_;  // (total_blocks)
  std::vector<TokenId> tokens_;    // (total_blocks, block_tokens) of the cached blocks
  std::vector<BlockId> free_;      // unreferenced and not cached
  BlockId lru_head_ = kNoBlock, lru_tail_ = kNoBlock;  // head: evicted first
  size_t used_ = 0, cached_ = 0;
  std::unordered_multimap<uint64_t, BlockId> index_;  // key(prefix hash) -> cached blocks
};

}  // namespace sy::engine
