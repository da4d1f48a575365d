// KvCache bookkeeping: block storage, reservations that fail without side effects, reference
// counts, prefix sharing, least-recently-used eviction (a prefix's tail first), statistics, and
// exact matches under forced hash collisions.

#include "runtime/kv_cache.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <numeric>
#include <set>
#include <vector>

#include "kernels/cpu/dequantize.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {
namespace {

constexpr size_t kBlock = 4;

ModelConfig tiny_config() {
  ModelConfig c;
  c.n_layers = 2;
  c.n_kv_heads = 2;
  c.head_dim = 3;
  return c;
}

KvCache make_cache(size_t blocks, unsigned hash_bits = 64, KvCacheType type = KvCacheType::f16) {
  return KvCache(
      tiny_config(),
      {.block_tokens = kBlock, .max_blocks = blocks, .type = type, .hash_bits = hash_bits});
}

std::vector<TokenId> tokens_from(TokenId first, size_t n) {
  std::vector<TokenId> t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

// Runs a sequence over `prompt` as a server would: attach, reserve, "compute", publish.
KvSequence run_prompt(KvCache& cache, const std::vector<TokenId>& prompt) {
  KvSequence seq;
  cache.attach_prefix(seq, prompt);
  EXPECT_TRUE(cache.reserve(seq, prompt.size()));
  seq.length = prompt.size();
  cache.publish(seq, prompt);
  return seq;
}

TEST(KvCache, BlockBytesCountKeysAndValuesOfEveryLayer) {
  EXPECT_EQ(KvCache::block_bytes(tiny_config(), kBlock, KvCacheType::f16), 2u * 2 * 4 * 6 * 2);
  EXPECT_EQ(KvCache::block_bytes(tiny_config(), kBlock, KvCacheType::f32), 2u * 2 * 4 * 6 * 4);
}

TEST(KvCache, EveryBlockLayerAndKindHasItsOwnStorage) {
  for (KvCacheType type : {KvCacheType::f16, KvCacheType::f32}) {
    KvCache cache = make_cache(3, 64, type);
    const size_t n = kBlock * cache.kv_width();
    auto fill = [&](BlockId b, size_t l, size_t kind, bool check) {
      for (size_t i = 0; i < n; ++i) {
        const auto value = static_cast<uint16_t>(((b * 2 + l) * 2 + kind) * 100 + i);
        if (type == KvCacheType::f16) {
          uint16_t* p = kind == 0 ? cache.keys_f16(b, l) : cache.values_f16(b, l);
          if (check)
            EXPECT_EQ(p[i], value);
          else
            p[i] = value;
        } else {
          float* p = kind == 0 ? cache.keys_f32(b, l) : cache.values_f32(b, l);
          if (check)
            EXPECT_EQ(p[i], float(value));
          else
            p[i] = value;
        }
      }
    };
    for (bool check : {false, true}) {
      for (BlockId b = 0; b < 3; ++b) {
        for (size_t l = 0; l < 2; ++l) {
          fill(b, l, 0, check);
          fill(b, l, 1, check);
        }
      }
    }
  }
}

TEST(KvCache, RefusesBadOptions) {
  EXPECT_THROW(KvCache(tiny_config(), {.block_tokens = 0, .max_blocks = 4}), EngineError);
  EXPECT_THROW(KvCache(tiny_config(), {.block_tokens = 4, .max_blocks = 0}), EngineError);
  EXPECT_THROW(KvCache(tiny_config(), {.block_tokens = 4, .max_blocks = 4, .hash_bits = 0}),
               EngineError);
  EXPECT_THROW(KvCache(ModelConfig{}, {.block_tokens = 4, .max_blocks = 4}), EngineError);
}

TEST(KvCache, ReserveGrowsBlockByBlockAndFailsWithoutSideEffects) {
  KvCache cache = make_cache(4);
  KvSequence a;
  EXPECT_TRUE(cache.reserve(a, 1));
  EXPECT_EQ(a.blocks.size(), 1u);
  EXPECT_TRUE(cache.reserve(a, kBlock));  // still one block
  EXPECT_EQ(a.blocks.size(), 1u);
  EXPECT_TRUE(cache.reserve(a, 2 * kBlock + 1));
  EXPECT_EQ(a.blocks.size(), 3u);
  EXPECT_EQ(std::set<BlockId>(a.blocks.begin(), a.blocks.end()).size(), 3u);
  EXPECT_EQ(cache.used_blocks(), 3u);
  EXPECT_EQ(cache.free_blocks(), 1u);

  KvSequence b;
  EXPECT_FALSE(cache.reserve(b, 2 * kBlock));
  EXPECT_TRUE(b.blocks.empty());
  EXPECT_FALSE(cache.reserve(a, 5 * kBlock));
  EXPECT_EQ(a.blocks.size(), 3u);
  EXPECT_EQ(cache.used_blocks(), 3u);
  EXPECT_TRUE(cache.reserve(b, kBlock));
  EXPECT_EQ(cache.free_blocks(), 0u);

  cache.release(a);
  EXPECT_TRUE(a.blocks.empty());
  EXPECT_EQ(a.length, 0u);
  EXPECT_EQ(cache.used_blocks(), 1u);
  EXPECT_EQ(cache.cached_blocks(), 0u);  // never published: straight back to the free list
}

TEST(KvCache, FailedReserveKeepsCachedPrefixes) {
  KvCache cache = make_cache(3);
  auto prompt = tokens_from(10, 2 * kBlock + 1);
  KvSequence a = run_prompt(cache, prompt);
  cache.release(a);
  EXPECT_EQ(cache.cached_blocks(), 2u);
  KvSequence big;
  EXPECT_FALSE(cache.reserve(big, 4 * kBlock));
  EXPECT_EQ(cache.cached_blocks(), 2u);
  KvSequence again;
  EXPECT_EQ(cache.attach_prefix(again, prompt), 2 * kBlock);
}

TEST(KvCache, SequencesShareCachedBlocksWithReferenceCounts) {
  KvCache cache = make_cache(8);
  auto prompt = tokens_from(1, 2 * kBlock + 3);
  KvSequence a = run_prompt(cache, prompt);
  EXPECT_EQ(a.published, 2u);
  const std::vector<BlockId> a_blocks = a.blocks;
  EXPECT_EQ(cache.used_blocks(), 3u);

  // While a still runs, b shares its two full blocks; the partial third is never shared.
  KvSequence b;
  EXPECT_EQ(cache.attach_prefix(b, prompt), 2 * kBlock);
  EXPECT_EQ(b.length, 2 * kBlock);
  EXPECT_EQ(b.published, 2u);
  EXPECT_EQ(b.prefix_hash, a.prefix_hash);
  EXPECT_EQ(b.blocks, std::vector<BlockId>(a_blocks.begin(), a_blocks.begin() + 2));
  EXPECT_EQ(cache.used_blocks(), 3u);
  ASSERT_TRUE(cache.reserve(b, prompt.size()));
  EXPECT_NE(b.blocks[2], a_blocks[2]);
  EXPECT_EQ(cache.used_blocks(), 4u);

  cache.release(a);  // b still holds the shared blocks
  EXPECT_EQ(cache.used_blocks(), 3u);
  EXPECT_EQ(cache.cached_blocks(), 0u);
  cache.release(b);
  EXPECT_EQ(cache.used_blocks(), 0u);
  EXPECT_EQ(cache.cached_blocks(), 2u);
  EXPECT_EQ(cache.free_blocks(), 8u);

  // A prompt of exactly two blocks takes only the first: its last token must still run.
  KvSequence c;
  EXPECT_EQ(cache.attach_prefix(c, std::span(prompt).first(2 * kBlock)), kBlock);
  EXPECT_EQ(c.blocks, std::vector<BlockId>{a_blocks[0]});
  EXPECT_EQ(cache.cached_blocks(), 1u);
  // A different second block stops the match there.
  auto forked = prompt;
  forked[kBlock + 1] = 99;
  KvSequence d;
  EXPECT_EQ(cache.attach_prefix(d, forked), kBlock);
  EXPECT_THROW(cache.attach_prefix(d, forked), EngineError);  // not empty
}

TEST(KvCache, PublishingAnAlreadyCachedPrefixSharesTheCachedBlock) {
  KvCache cache = make_cache(8);
  auto prompt = tokens_from(5, 2 * kBlock + 1);
  // Two cold sequences computed the same prompt in the same step.
  KvSequence a, b;
  ASSERT_TRUE(cache.reserve(a, prompt.size()));
  ASSERT_TRUE(cache.reserve(b, prompt.size()));
  a.length = b.length = prompt.size();
  EXPECT_EQ(cache.used_blocks(), 6u);
  cache.publish(a, prompt);
  cache.publish(b, prompt);
  EXPECT_EQ(b.published, 2u);
  EXPECT_EQ(b.blocks[0], a.blocks[0]);
  EXPECT_EQ(b.blocks[1], a.blocks[1]);
  EXPECT_NE(b.blocks[2], a.blocks[2]);
  EXPECT_EQ(cache.used_blocks(), 4u);
  // Publishing again, or with more tokens than stored, changes nothing.
  cache.publish(b, tokens_from(5, 4 * kBlock));
  EXPECT_EQ(b.published, 2u);
  EXPECT_THROW(cache.publish(b, std::span(prompt).first(3)), EngineError);
}

TEST(KvCache, DecodedTokensExtendThePublishedPrefix) {
  KvCache cache = make_cache(8);
  auto all = tokens_from(100, 3 * kBlock);
  KvSequence a = run_prompt(cache, std::vector<TokenId>(all.begin(), all.begin() + kBlock + 2));
  EXPECT_EQ(a.published, 1u);
  for (size_t len = kBlock + 3; len <= all.size(); ++len) {
    ASSERT_TRUE(cache.reserve(a, len));
    a.length = len;
    cache.publish(a, std::span(all).first(len));
  }
  EXPECT_EQ(a.published, 3u);
  cache.release(a);
  KvSequence b;
  all.push_back(7);
  EXPECT_EQ(cache.attach_prefix(b, all), 3 * kBlock);
}

TEST(KvCache, EvictsTheLeastRecentlyUsedPrefixTailFirst) {
  KvCache cache = make_cache(5);
  auto x = tokens_from(1, 2 * kBlock + 1), y = tokens_from(50, 2 * kBlock + 1);
  KvSequence sx = run_prompt(cache, x);
  cache.release(sx);  // x: 2 cached blocks
  KvSequence sy = run_prompt(cache, y);
  cache.release(sy);  // y: 2 cached blocks, more recent
  EXPECT_EQ(cache.cached_blocks(), 4u);
  EXPECT_EQ(cache.free_blocks(), 5u);

  KvSequence fresh;
  ASSERT_TRUE(cache.reserve(fresh, 2 * kBlock));  // the free block, then x's second block
  EXPECT_EQ(cache.cached_blocks(), 3u);
  KvSequence probe;
  EXPECT_EQ(cache.attach_prefix(probe, x), kBlock);
  cache.release(probe);  // x's first block is now the most recently used

  ASSERT_TRUE(cache.reserve(fresh, 4 * kBlock));  // y's tail, then y's head
  EXPECT_EQ(cache.cached_blocks(), 1u);
  EXPECT_EQ(cache.attach_prefix(probe, y), 0u);
  EXPECT_EQ(cache.attach_prefix(probe, x), kBlock);
  EXPECT_EQ(cache.free_blocks(), 0u);
  EXPECT_FALSE(cache.reserve(fresh, 5 * kBlock));  // x's block is referenced now
  EXPECT_EQ(fresh.blocks.size(), 4u);
}

TEST(KvCache, CountsLookedUpAndHitPromptTokens) {
  KvCache cache = make_cache(8);
  auto prompt = tokens_from(1, 2 * kBlock + 2);
  KvSequence a = run_prompt(cache, prompt);
  EXPECT_EQ(cache.prefix_stats().lookup_tokens, prompt.size());
  EXPECT_EQ(cache.prefix_stats().hit_tokens, 0u);
  KvSequence b;
  cache.attach_prefix(b, prompt);
  EXPECT_EQ(cache.prefix_stats().lookup_tokens, 2 * prompt.size());
  EXPECT_EQ(cache.prefix_stats().hit_tokens, 2 * kBlock);
  KvSequence c;
  cache.attach_prefix(c, std::vector<TokenId>{});
  EXPECT_EQ(c.length, 0u);
  EXPECT_EQ(cache.prefix_stats().lookup_tokens, 2 * prompt.size());
}

// With a one-bit key every prefix collides with half the others: lookups must still return
// exactly the blocks computed for the same tokens, or nothing.
TEST(KvCache, HashCollisionsNeverMatchDifferentTokens) {
  KvCache cache = make_cache(64, 1);
  std::vector<std::vector<TokenId>> prompts;
  std::vector<std::vector<BlockId>> blocks;
  for (TokenId p = 0; p < 6; ++p) {
    // Common first block for pairs of prompts, then different second blocks.
    std::vector<TokenId> prompt = tokens_from(1000 + p / 2, kBlock);
    auto rest = tokens_from(p * 10, kBlock + 1);
    prompt.insert(prompt.end(), rest.begin(), rest.end());
    KvSequence s = run_prompt(cache, prompt);
    prompts.push_back(prompt);
    blocks.push_back({s.blocks[0], s.blocks[1]});
    cache.release(s);
  }
  for (size_t p = 0; p < prompts.size(); ++p) {
    KvSequence s;
    EXPECT_EQ(cache.attach_prefix(s, prompts[p]), 2 * kBlock) << p;
    EXPECT_EQ(s.blocks, blocks[p]) << p;
    cache.release(s);
  }
  EXPECT_EQ(blocks[0][0], blocks[1][0]);  // shared first block
  EXPECT_NE(blocks[0][1], blocks[1][1]);
  for (TokenId first = 2000; first < 2010; ++first) {
    KvSequence s;
    auto unknown = tokens_from(first, 2 * kBlock + 1);
    EXPECT_EQ(cache.attach_prefix(s, unknown), 0u);
    // The same second block after a different first block is not a match either.
    auto moved = prompts[0];
    moved[0] = first;
    EXPECT_EQ(cache.attach_prefix(s, moved), 0u);
  }
}

// Every half bit pattern (zeros, subnormals, normals, infinities, NaNs with their payloads),
// through the vector body and the scalar tail.
TEST(KvCache, WidensEveryHalfExactlyAsTheScalarConversion) {
  std::vector<uint16_t> halves(65536 + 3);
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint16_t>(i * 40503u);
  std::vector<float> wide(halves.size());
  KvCache::widen_f16(halves.data(), wide.data(), halves.size());
  size_t differ = 0;
  for (size_t i = 0; i < halves.size(); ++i) {
    const float want = kernels::fp16_to_fp32(halves[i]);
    differ += std::memcmp(&want, &wide[i], sizeof(float)) != 0;
  }
  EXPECT_EQ(differ, 0u);
}

// Pages of [begin, end) that are resident, by mincore, over those wholly inside it.
double resident_share(const void* begin, const void* end) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
  const uintptr_t hi = reinterpret_cast<uintptr_t>(end) / page * page;
  if (lo >= hi) return 1;
  std::vector<unsigned char> in((hi - lo) / page);
  if (mincore(reinterpret_cast<void*>(lo), hi - lo, in.data()) != 0) return -1;
  size_t resident = 0;
  for (unsigned char c : in) resident += c & 1;
  return double(resident) / double(in.size());
}

TEST(KvCache, PrefaultLeavesEveryPageOfTheStorageResident) {
  // 8 MiB of blocks, far more than the allocator's small-request pools: a fresh mapping.
  ModelConfig c = tiny_config();
  c.n_layers = 32;
  c.n_kv_heads = 8;
  c.head_dim = 64;
  const size_t blocks = 64, bytes = blocks * KvCache::block_bytes(c, 16, KvCacheType::f16);
  ASSERT_GE(bytes, size_t{8} << 20);
  KvCache warm(c, {.block_tokens = 16, .max_blocks = blocks, .prefault = true});
  const auto* begin = reinterpret_cast<const std::byte*>(warm.keys_f16(0, 0));
  EXPECT_EQ(resident_share(begin, begin + bytes), 1.0);
  // Without it, a fresh budget is not resident until used (the default for KvCache).
  KvCache cold(c, {.block_tokens = 16, .max_blocks = blocks});
  const auto* cold_begin = reinterpret_cast<const std::byte*>(cold.keys_f16(0, 0));
  EXPECT_LT(resident_share(cold_begin, cold_begin + bytes), 0.5);
}

}  // namespace
}  // namespace sy::engine
