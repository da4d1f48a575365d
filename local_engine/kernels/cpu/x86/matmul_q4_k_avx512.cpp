// The AVX-512 (BW, VNNI) Q4_K x Q8_K row-group kernel (matmul_q4_k.h): 16 rows in the 32-bit
// lanes of a register. Per super-block and token: each of the 32 qs registers of the group
// splits into its low and high nibbles (sub-blocks 2c and 2c + 1, elements 4g..4g+3 of every
// row), each meets a broadcast of the token's 4 matching activation bytes in a vpdpbusd; after a
// sub-block pair's 8 steps one vpmulld per sub-block applies the rows' 6-bit scales, so S_b, and
// after 4 vpdpwssd of (m_2i, m_2i+1) word pairs with the token's sub-block sums M_b, are exact
// int32 in each row's lane; then the contract's two fmas (cpu_kernels.h) with the rows' d and
// dmin times the token's scale. A tile of kTileTokens tokens shares every weight load and
// unpacking; tokens are taken in chunks whose activations stay in L2 while every group of the
// call passes over them.

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/matmul_q4_k.h"
#include "kernels/cpu/side_prefetch.h"
#include "kernels/cpu/x86/stream_prefetch.h"

namespace sy::engine::kernels {
namespace {

// Activations per chunk of tokens, at most: with a group's unpacked nibbles and scales (up to
// 164 KB at 8192 columns) they stay in L2 (1 MiB a core here) across the group's tiles. 384 KiB
// left the 8192-column shape 40 tokens a chunk and ~15% slower (unpacking per 10 tiles); 1.5 MiB
// gained nothing more (engine_matmul_q4_k_bench, alternated).
constexpr size_t kChunkBytes = 768 * 1024;
// Tokens a tile: 4 accumulators a token (two sub-block sums, S, the float chain) plus the
// unpacked weights fit the 32 registers.
constexpr size_t kTileTokens = 4;

// One super-block's scales of a group, unpacked once per group and chunk: sc[j] holds sub-block
// j's 6-bit scale in each row's 32-bit lane, m[i] the mins of sub-blocks 2i and 2i + 1 as a word
// pair (for vpdpwssd with the token's sub-block sums, bsum_pairs), d and dmin the rows' fp16 scales
// widened.
struct alignas(64) GroupScales {
  int32_t sc[8][16];
  int32_t m[4][16];  // (m_2i, m_2i+1) word pairs
  float d[16];
  float dmin[16];
};

// One super-block's nibbles of a group as bytes, unpacked once per group and chunk of tokens:
// q[2 * (8c + k)] the low nibbles of qs[8c + k] (sub-block 2c), q[2 * (8c + k) + 1] the high ones.
struct alignas(64) GroupNibbles {
  uint8_t q[64][64];
};

void unpack_nibbles(const RowGroupQ4_K* w, size_t n_blocks, GroupNibbles* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (size_t b = 0; b < n_blocks; ++b) {
    for (int r = 0; r < 32; ++r) {
      const __m512i q = _mm512_loadu_si512(w[b].qs[r]);
      _mm512_store_si512(out[b].q[2 * r], _mm512_and_si512(q, low4));
      _mm512_store_si512(out[b].q[2 * r + 1], _mm512_and_si512(_mm512_srli_epi16(q, 4), low4));
    }
  }
}

// Byte j of every 32-bit lane, zero-extended to the lane.
inline __m512i lane_byte(__m512i v, int j) {
  return _mm512_shuffle_epi8(
      v, _mm512_broadcast_i32x4(
             _mm_setr_epi32(static_cast<int>(0x80808000u | j), static_cast<int>(0x80808004u | j),
                            static_cast<int>(0x80808008u | j), static_cast<int>(0x8080800Cu | j))));
}

// Bytes j and j + 1 of every 32-bit lane as its two words (zero-extended).
inline __m512i lane_byte_pair(__m512i v, int j) {
  auto ctrl = [j](unsigned at) {
    return static_cast<int>(0x80008000u | (at + j) | (at + j + 1) << 16);
  };
  return _mm512_shuffle_epi8(
      v, _mm512_broadcast_i32x4(_mm_setr_epi32(ctrl(0), ctrl(4), ctrl(8), ctrl(12))));
}

// The 6-bit packing of cpu_kernels.h's BlockQ4_K, on 16 rows at once.
void unpack_scales(const RowGroupQ4_K* w, size_t n_blocks, GroupScales* out) {
  const __m512i m3f = _mm512_set1_epi32(0x3F3F3F3F), m0f = _mm512_set1_epi32(0x0F0F0F0F);
  const __m512i m30 = _mm512_set1_epi32(0x30303030);
  for (size_t b = 0; b < n_blocks; ++b) {
    const RowGroupQ4_K& g = w[b];
    GroupScales& s = out[b];
    const __m512i x = _mm512_loadu_si512(g.scales[0]), y = _mm512_loadu_si512(g.scales[1]);
    const __m512i z = _mm512_loadu_si512(g.scales[2]);
    const __m512i sc_lo = _mm512_and_si512(x, m3f);
    const __m512i sc_hi =
        _mm512_or_si512(_mm512_and_si512(z, m0f), _mm512_and_si512(_mm512_srli_epi32(x, 2), m30));
    const __m512i m_lo = _mm512_and_si512(y, m3f);
    const __m512i m_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(z, 4), m0f),
                                         _mm512_and_si512(_mm512_srli_epi32(y, 2), m30));
    for (int j = 0; j < 4; ++j) {
      _mm512_store_si512(s.sc[j], lane_byte(sc_lo, j));
      _mm512_store_si512(s.sc[j + 4], lane_byte(sc_hi, j));
      if (j % 2 == 0) {
        _mm512_store_si512(s.m[j / 2], lane_byte_pair(m_lo, j));
        _mm512_store_si512(s.m[j / 2 + 2], lane_byte_pair(m_hi, j));
      }
    }
    _mm512_store_ps(s.d,
                    _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.d))));
    _mm512_store_ps(s.dmin,
                    _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.dmin))));
  }
}

inline __m512i broadcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// One group (16 rows) x T tokens (token t's blocks at x + t * n_blocks): out[t * out_stride + i].
// `scales`: the group's unpacked scales, or nullptr to unpack each block's as it comes (decode:
// one pass over the weights in address order, which the hardware prefetchers follow).
// `nibbles`: the group's unpacked nibbles, or nullptr to unpack them in registers.
// `side` (or nullptr) steps once per block (side_prefetch.h).
template <size_t T>
void tile(const RowGroupQ4_K* w, const GroupScales* scales, const GroupNibbles* nibbles,
          size_t n_blocks, const BlockQ8_K* x, const int32_t* pairs, float* out, size_t out_stride,
          SidePrefetch* side) {
  GroupScales own;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc[T];
  for (size_t t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (size_t b = 0; b < n_blocks; ++b) {
    const RowGroupQ4_K& g = w[b];
    if (T == 1 && scales == nullptr) prefetch_stream_ahead(&g, sizeof(g));  // decode
    if (side != nullptr) side->step();
    if (scales == nullptr) unpack_scales(&g, 1, &own);
    const GroupScales& s = scales != nullptr ? scales[b] : own;
    __m512i sum[T];  // S_b
    for (size_t t = 0; t < T; ++t) sum[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      __m512i lo_sum[T], hi_sum[T];  // (q . x) of sub-blocks 2c and 2c + 1
      for (size_t t = 0; t < T; ++t) lo_sum[t] = hi_sum[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        __m512i lo, hi;
        if (nibbles != nullptr) {
          lo = _mm512_load_si512(nibbles[b].q[2 * (8 * c + k)]);
          hi = _mm512_load_si512(nibbles[b].q[2 * (8 * c + k) + 1]);
        } else {
          const __m512i q = _mm512_loadu_si512(g.qs[8 * c + k]);
          lo = _mm512_and_si512(q, low4);
          hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
        }
#pragma GCC unroll 8
        for (size_t t = 0; t < T; ++t) {
          const int8_t* xq = x[t * n_blocks + b].qs + 64 * c + 4 * k;
          lo_sum[t] = _mm512_dpbusd_epi32(lo_sum[t], lo, broadcast32(xq));
          hi_sum[t] = _mm512_dpbusd_epi32(hi_sum[t], hi, broadcast32(xq + 32));
        }
      }
      const __m512i sc_lo = _mm512_load_si512(s.sc[2 * c]);
      const __m512i sc_hi = _mm512_load_si512(s.sc[2 * c + 1]);
#pragma GCC unroll 8
      for (size_t t = 0; t < T; ++t) {
        sum[t] = _mm512_add_epi32(sum[t], _mm512_add_epi32(_mm512_mullo_epi32(lo_sum[t], sc_lo),
                                                           _mm512_mullo_epi32(hi_sum[t], sc_hi)));
      }
    }
    const __m512 d = _mm512_load_ps(s.d), dmin = _mm512_load_ps(s.dmin);
#pragma GCC unroll 8
    for (size_t t = 0; t < T; ++t) {
      const BlockQ8_K& xt = x[t * n_blocks + b];
      __m512i mins = _mm512_setzero_si512();
      const int32_t* pair = pairs + 4 * (t * n_blocks + b);
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        mins = _mm512_dpwssd_epi32(mins, _mm512_load_si512(s.m[i]), _mm512_set1_epi32(pair[i]));
      }
      const __m512 xd = _mm512_set1_ps(xt.d);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[t]), _mm512_mul_ps(d, xd), acc[t]);
      acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins), _mm512_mul_ps(dmin, xd), acc[t]);
    }
  }
  for (size_t t = 0; t < T; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

// The last n (< kTileTokens) tokens of a group: one tile of that many.
template <size_t T>
void tail_tile(size_t n, const RowGroupQ4_K* w, const GroupScales* scales,
               const GroupNibbles* nibbles, size_t n_blocks, const BlockQ8_K* x,
               const int32_t* pairs, float* out, size_t out_stride, SidePrefetch* side) {
  if constexpr (T > 0) {
    if (n == T) return tile<T>(w, scales, nibbles, n_blocks, x, pairs, out, out_stride, side);
    return tail_tile<T - 1>(n, w, scales, nibbles, n_blocks, x, pairs, out, out_stride, side);
  }
}

// One group over n_tokens tokens: whole tiles, then one tile of the rest; `side` steps in the
// first.
void group_tokens(const RowGroupQ4_K* w, const GroupScales* scales, const GroupNibbles* nibbles,
                  size_t n_blocks, const BlockQ8_K* x, const int32_t* pairs, size_t n_tokens,
                  float* out, size_t out_stride, SidePrefetch* side) {
  size_t t = 0;
  for (; t + kTileTokens <= n_tokens; t += kTileTokens) {
    tile<kTileTokens>(w, scales, nibbles, n_blocks, x + t * n_blocks, pairs + 4 * t * n_blocks,
                      out + t * out_stride, out_stride, side);
    side = nullptr;
  }
  tail_tile<kTileTokens - 1>(n_tokens - t, w, scales, nibbles, n_blocks, x + t * n_blocks,
                             pairs + 4 * t * n_blocks, out + t * out_stride, out_stride, side);
}

// Each token's super-block b as 4 word pairs (bs_2i, bs_2i+1), bs_j = bsums[2j] +
// bsums[2j + 1] the sum of sub-block j's 32 quants (|bs_j| <= 32 * 127 fits a word), so that 4
// vpdpwssd give M_b; x: n blocks, out (n, 4).
void bsum_pairs(const BlockQ8_K* x, size_t n, int32_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].bsums));
    // Adjacent words summed: vpmaddwd with ones, then the 8 int32 back to words in order.
    const __m256i sums = _mm256_madd_epi16(bs, _mm256_set1_epi16(1));
    const __m128i words =
        _mm_packs_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * i), words);
  }
}

}  // namespace

void matmul_q4_k_groups_avx512(const RowGroupQ4_K* w, size_t n_groups, size_t n_blocks,
                               const BlockQ8_K* x, size_t n_tokens, float* out, size_t out_stride,
                               SidePrefetch* side) {
  if (n_groups == 0 || n_tokens == 0 || n_blocks == 0) return;
  thread_local std::vector<GroupScales> scales;    // (n_blocks): one group's
  thread_local std::vector<GroupNibbles> nibbles;  // (n_blocks): one group's
  thread_local std::vector<int32_t> pairs;         // (n_tokens, n_blocks, 4)
  scales.resize(n_blocks);
  nibbles.resize(n_blocks);
  pairs.resize(4 * n_tokens * n_blocks);
  bsum_pairs(x, n_tokens * n_blocks, pairs.data());
  if (n_tokens < kTileTokens) {  // decode, or a few tokens: one pass over the weights
    for (size_t g = 0; g < n_groups; ++g) {
      tail_tile<kTileTokens - 1>(n_tokens, w + g * n_blocks, nullptr, nullptr, n_blocks, x,
                                 pairs.data(), out + kGroupRows * g, out_stride, side);
    }
    return;
  }
  const size_t chunk = std::max<size_t>(
      kTileTokens, kChunkBytes / (n_blocks * sizeof(BlockQ8_K)) / kTileTokens * kTileTokens);
  for (size_t t0 = 0; t0 < n_tokens; t0 += chunk) {
    const size_t nt = std::min(chunk, n_tokens - t0);
    for (size_t g = 0; g < n_groups; ++g) {
      const RowGroupQ4_K* wg = w + g * n_blocks;
      unpack_scales(wg, n_blocks, scales.data());
      unpack_nibbles(wg, n_blocks, nibbles.data());
      group_tokens(wg, scales.data(), nibbles.data(), n_blocks, x + t0 * n_blocks,
                   pairs.data() + 4 * t0 * n_blocks, nt, out + t0 * out_stride + kGroupRows * g,
                   out_stride, t0 == 0 ? side : nullptr);
    }
  }
}

void matmul_q4_k_q8_k_avx512(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, const BlockQ8_K* x,
                             size_t n_tokens, float* out, size_t out_stride) {
  matmul_q4_k_rows_via_groups(&matmul_q4_k_groups_avx512, w, n_rows, n_blocks, x, n_tokens, out,
                              out_stride);
}

// quantize_row_q8_k (k_quants.cpp) on 16 lanes: max |x| is order-free, iscale * x the same
// float products, vcvtps2dq rounds to nearest even as its nearest() does (|v| <= 127.5 here), then
// the same clamp; bsums are exact integer sums.
void quantize_q8_k_avx512(const float* x, BlockQ8_K* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK) {
    __m512 amax = _mm512_setzero_ps();
    for (size_t j = 0; j < kQK; j += 16) {
      amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
    }
    const float m = _mm512_reduce_max_ps(amax);
    BlockQ8_K& out = y[b];
    if (m == 0.0f) {
      std::memset(&out, 0, sizeof(out));
      continue;
    }
    const float iscale = 127.0f / m;
    if (!std::isfinite(iscale)) {  // subnormal maxima: the scalar path's clamping of infinities
      quantize_row_q8_k(x, &out, kQK);
      continue;
    }
    const __m512 s = _mm512_set1_ps(iscale);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (size_t k = 0; k < 16; ++k) {
      __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(s, _mm512_loadu_ps(x + 16 * k)));
      q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out.qs + 16 * k), _mm512_cvtepi32_epi8(q));
      out.bsums[k] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    out.d = 1.0f / iscale;
  }
}

}  // namespace sy::engine::kernels

#endif  // __x86_64__
