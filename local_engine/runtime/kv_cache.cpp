#include "runtime/kv_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/cpu/dequantize.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {
namespace {

// splitmix64's finalizer: every input bit reaches every output bit.
uint64_t mix(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

// The hash of a prefix extended by `tokens`; the empty prefix hashes to 0 (a new KvSequence).
uint64_t chain(uint64_t prefix_hash, std::span<const TokenId> tokens) {
  uint64_t h = prefix_hash;
  for (TokenId t : tokens) h = mix(h ^ (static_cast<uint32_t>(t) + 0x9e3779b97f4a7c15ULL));
  return h;
}

size_t element_bytes(KvCacheType type) { return type == KvCacheType::f16 ? 2 : 4; }

// GCC/Clang vector extensions: plain SSE2 on x86-64, NEON on ARM, no ISA flags or dispatch.
using U16x4 = uint16_t __attribute__((vector_size(8)));
using U32x4 = uint32_t __attribute__((vector_size(16)));
using F32x4 = float __attribute__((vector_size(16)));

}  // namespace

// Half bits h -> float bits: exponent and mantissa move up 13 bits and the exponent is rebased
// (+112); infinities and NaNs get the top exponent; a subnormal half (exponent 0) is rebuilt as
// the normal float 2^-14 * (1 + m/1024) minus 2^-14, exactly m * 2^-24 (no subnormal operand).
void KvCache::widen_f16(const uint16_t* in, float* out, size_t n) {
  constexpr uint32_t kExponent = 0x7c00u << 13;
  const F32x4 two_pow_minus_14 = {0x1p-14f, 0x1p-14f, 0x1p-14f, 0x1p-14f};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    U16x4 h16;
    std::memcpy(&h16, in + i, sizeof(h16));
    const U32x4 h = __builtin_convertvector(h16, U32x4);
    U32x4 bits = (h & 0x7fffu) << 13;
    const U32x4 exponent = bits & kExponent;
    bits += 112u << 23;
    bits = exponent == kExponent ? bits + (112u << 23) : bits;
    F32x4 subnormal;
    const U32x4 lifted = bits + (1u << 23);
    std::memcpy(&subnormal, &lifted, sizeof(subnormal));
    subnormal -= two_pow_minus_14;
    U32x4 subnormal_bits;
    std::memcpy(&subnormal_bits, &subnormal, sizeof(subnormal_bits));
    bits = exponent == 0 ? subnormal_bits : bits;
    bits |= (h & 0x8000u) << 16;
    std::memcpy(out + i, &bits, sizeof(bits));
  }
  for (; i < n; ++i) out[i] = kernels::fp16_to_fp32(in[i]);
}

size_t KvCache::block_bytes(const ModelConfig& config, size_t block_tokens, KvCacheType type) {
  return 2 * size_t{config.n_layers} * block_tokens * config.n_kv_heads * config.head_dim *
         element_bytes(type);
}

KvCache::KvCache(const ModelConfig& config, KvCacheOptions options)
    : options_(options),
      n_layers_(config.n_layers),
      kv_width_(size_t{config.n_kv_heads} * config.head_dim),
      slot_elements_(options.block_tokens * kv_width_),
      element_bytes_(element_bytes(options.type)) {
  if (options.block_tokens == 0) throw EngineError("KV cache: block_tokens must be > 0");
  if (options.max_blocks == 0) throw EngineError("KV cache: max_blocks must be > 0");
  if (options.max_blocks >= kNoBlock) throw EngineError("KV cache: too many blocks");
  if (options.hash_bits == 0 || options.hash_bits > 64) {
    throw EngineError("KV cache: hash_bits must be in 1..64");
  }
  if (n_layers_ == 0 || kv_width_ == 0) throw EngineError("KV cache: the model has no KV heads");
  key_mask_ = options.hash_bits == 64 ? ~uint64_t{0} : (uint64_t{1} << options.hash_bits) - 1;
  const size_t storage_bytes =
      options.max_blocks * block_bytes(config, options.block_tokens, options.type);
  storage_ = std::make_unique_for_overwrite<std::byte[]>(storage_bytes);
  // 2 MiB pages where the kernel gives them (the whole 2 MiB stretches inside the buffer): a
  // decode step reads every cached row of every layer, 4 KiB pages made that a TLB miss and a
  // cut prefetch stream every few rows. Blocks are handed out from block 0 up, so the pages
  // touched stay dense.
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<uintptr_t>(storage_.get());
  const uintptr_t lo = (begin + kHuge - 1) / kHuge * kHuge;
  const uintptr_t hi = (begin + storage_bytes) / kHuge * kHuge;
  if (lo < hi) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
  if (options.prefault) {
    // After the huge-page advice, so that the 2 MiB stretches are populated as huge pages.
    constexpr uintptr_t kPage = 4096;
    const uintptr_t first = (begin + kPage - 1) / kPage * kPage;
    const uintptr_t last = (begin + storage_bytes) / kPage * kPage;
#if defined(MADV_POPULATE_WRITE)
    const bool populated = first >= last || ::madvise(reinterpret_cast<void*>(first), last - first,
                                                      MADV_POPULATE_WRITE) == 0;
#else
    const bool populated = false;
#endif
    if (!populated) {  // before Linux 5.14: write a byte of every page (its contents are unset)
      for (std::byte* p = storage_.get(); p < storage_.get() + storage_bytes; p += kPage) {
        *reinterpret_cast<volatile std::byte*>(p) = std::byte{0};
      }
    }
  }
  blocks_.resize(options.max_blocks);
  tokens_.resize(options.max_blocks * options.block_tokens);
  // Popped from the back: block 0 first.
  free_.resize(options.max_blocks);
  for (size_t i = 0; i < free_.size(); ++i) free_[i] = static_cast<BlockId>(free_.size() - 1 - i);
}

BlockId KvCache::find_cached(uint64_t hash, BlockId parent, std::span<const TokenId> tokens) const {
  const auto [begin, end] = index_.equal_range(key(hash));
  for (auto it = begin; it != end; ++it) {
    const BlockInfo& b = blocks_[it->second];
    // The parent link (checked by the caller's previous step, down to position 0) and the
    // block's own tokens make the match exact whatever the hash does.
    if (b.parent != parent) continue;
    if (parent != kNoBlock && b.parent_epoch != blocks_[parent].epoch) continue;
    const TokenId* stored = tokens_.data() + size_t{it->second} * options_.block_tokens;
    if (std::equal(tokens.begin(), tokens.end(), stored)) return it->second;
  }
  return kNoBlock;
}

void KvCache::lru_push(BlockId id) {
  BlockInfo& b = blocks_[id];
  b.lru_prev = lru_tail_;
  b.lru_next = kNoBlock;
  if (lru_tail_ != kNoBlock)
    blocks_[lru_tail_].lru_next = id;
  else
    lru_head_ = id;
  lru_tail_ = id;
  ++cached_;
}

void KvCache::lru_remove(BlockId id) {
  BlockInfo& b = blocks_[id];
  if (b.lru_prev != kNoBlock)
    blocks_[b.lru_prev].lru_next = b.lru_next;
  else
    lru_head_ = b.lru_next;
  if (b.lru_next != kNoBlock)
    blocks_[b.lru_next].lru_prev = b.lru_prev;
  else
    lru_tail_ = b.lru_prev;
  b.lru_prev = b.lru_next = kNoBlock;
  --cached_;
}

BlockId KvCache::take_block() {
  BlockId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = lru_head_;  // the caller checked that there is one
    lru_remove(id);
    BlockInfo& b = blocks_[id];
    const auto [begin, end] = index_.equal_range(b.key);
    for (auto it = begin; it != end; ++it) {
      if (it->second == id) {
        index_.erase(it);
        break;
      }
    }
    b.cached = false;
    ++b.epoch;
  }
  blocks_[id].refs = 1;
  ++used_;
  return id;
}

void KvCache::acquire(BlockId id) {
  BlockInfo& b = blocks_[id];
  if (b.refs++ == 0) {
    lru_remove(id);
    ++used_;
  }
}

void KvCache::drop(BlockId id) {
  BlockInfo& b = blocks_[id];
  if (--b.refs > 0) return;
  --used_;
  if (b.cached)
    lru_push(id);
  else
    free_.push_back(id);
}

size_t KvCache::attach_prefix(KvSequence& seq, std::span<const TokenId> prompt) {
  if (!seq.blocks.empty() || seq.length != 0) {
    throw EngineError("KV cache: attach_prefix needs an empty sequence");
  }
  stats_.lookup_tokens += prompt.size();
  const size_t bt = options_.block_tokens;
  // The last prompt token always runs: its logits are the first sample.
  const size_t max_blocks = prompt.empty() ? 0 : (prompt.size() - 1) / bt;
  uint64_t hash = 0;
  BlockId parent = kNoBlock;
  for (size_t i = 0; i < max_blocks; ++i) {
    const auto tokens = prompt.subspan(i * bt, bt);
    const uint64_t next = chain(hash, tokens);
    const BlockId found = find_cached(next, parent, tokens);
    if (found == kNoBlock) break;
    acquire(found);
    seq.blocks.push_back(found);
    hash = next;
    parent = found;
  }
  seq.length = seq.blocks.size() * bt;
  seq.published = seq.blocks.size();
  seq.prefix_hash = hash;
  stats_.hit_tokens += seq.length;
  return seq.length;
}

bool KvCache::reserve(KvSequence& seq, size_t length) {
  const size_t bt = options_.block_tokens;
  const size_t need = (length + bt - 1) / bt;
  if (need <= seq.blocks.size()) return true;
  const size_t extra = need - seq.blocks.size();
  if (extra > free_.size() + cached_) return false;
  seq.blocks.reserve(need);
  for (size_t i = 0; i < extra; ++i) seq.blocks.push_back(take_block());
  return true;
}

void KvCache::publish(KvSequence& seq, std::span<const TokenId> tokens) {
  if (tokens.size() < seq.length) throw EngineError("KV cache: publish needs every token");
  const size_t bt = options_.block_tokens;
  const size_t full = std::min(seq.length / bt, seq.blocks.size());
  for (size_t i = seq.published; i < full; ++i) {
    const auto block_tokens = tokens.subspan(i * bt, bt);
    const uint64_t hash = chain(seq.prefix_hash, block_tokens);
    // Published blocks are cached, so the previous one is the chain's parent.
    const BlockId parent = i == 0 ? kNoBlock : seq.blocks[i - 1];
    const BlockId mine = seq.blocks[i];
    const BlockId existing = find_cached(hash, parent, block_tokens);
    if (existing != kNoBlock) {
      if (existing != mine) {
        acquire(existing);
        drop(mine);
        seq.blocks[i] = existing;
      }
    } else {
      BlockInfo& b = blocks_[mine];
      b.cached = true;
      b.key = key(hash);
      b.parent = parent;
      b.parent_epoch = parent == kNoBlock ? 0 : blocks_[parent].epoch;
      std::copy(block_tokens.begin(), block_tokens.end(), tokens_.data() + size_t{mine} * bt);
      index_.emplace(b.key, mine);
    }
    seq.prefix_hash = hash;
    seq.published = i + 1;
  }
}

void KvCache::release(KvSequence& seq) {
  // Tail first: a prefix's later blocks become least recently used before its head, so an
  // eviction shortens a cached prefix instead of cutting it off at the start.
  for (auto it = seq.blocks.rbegin(); it != seq.blocks.rend(); ++it) drop(*it);
  seq = KvSequence{};
}

}  // namespace sy::engine
