// The AVX-512 (BW, VNNI) Q4_K x Q8_K matmul tiles (matmul_q4_k.h). Compiled with the same flags
// as avx512_kernels.cpp and, like it, shares no inline function with other files (the unpacking is
// q4_k_unpack_x86.h's, a private copy per file). Each tile
// follows avx512_kernels.cpp's dot_q4_k_q8_k lane for lane: int32 lane i holds the sums of
// elements 4i..4i+3 of every sub-block times its scale (exact integers, so their order is free;
// here per pair of sub-blocks two vpdpbusd, one vpackssdw and one vpdpwssd, on the A/B order of
// matmul_q4_k.h); per super-block, the lanes to float times d_w * d_x into the block's chain (even
// or odd block), and the mins' lanes (bsums pairs times m_j, vpmaddwd) times dmin_w * d_x into
// theirs.
// A 512-bit register holds two tokens, so each weight sub-block is broadcast to both halves
// straight from the unpacked copy (a load, no unpacking in the tile) and each scale is a 32-bit
// broadcast.

#if defined(__x86_64__)

#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/matmul_q4_k.h"
#include "kernels/cpu/x86/q4_k_unpack_x86.h"

namespace sy::engine::kernels {
namespace {

// 3 rows x 2 token pairs (6 accumulators, one parity's 12 float sums and the operands of a step
// fit the 32 registers). Measured alike within noise: 2 x 2, 2 x 3, 2 x 4, 3 x 3; 4 x 2 ~7%
// slower.
constexpr size_t kTileRows = 3;
constexpr size_t kTilePairs = 2;

inline float hsum256(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline __m256 half_of(__m512 v, size_t h) {
  return h == 0 ? _mm512_castps512_ps256(v)
                : _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

// Block b of R rows x P token pairs into one parity's sums (the dot's acc0/min0 for even blocks,
// acc1/min1 for odd). u: row 0's unpacked block b (row r at u + r * n_blocks);
// x: pair 0's block b (pair i at x + i * n_blocks).
template <size_t R, size_t P>
inline void block_step(const Q4KUnpacked* u, const Q8KTokenPair* x, size_t n_blocks,
                       __m512 (&acc)[R][P], __m512 (&mn)[R][P]) {
  __m512i isum[R][P];
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (size_t i = 0; i < P; ++i) isum[r][i] = _mm512_setzero_si512();
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    __m512i qa[R], qb[R], sc[R];
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r) {
      const Q4KUnpacked& ur = u[r * n_blocks];
      qa[r] =
          _mm512_broadcast_i64x4(_mm256_load_si256(reinterpret_cast<const __m256i*>(ur.q[2 * c])));
      qb[r] = _mm512_broadcast_i64x4(
          _mm256_load_si256(reinterpret_cast<const __m256i*>(ur.q[2 * c + 1])));
      int32_t pair;
      std::memcpy(&pair, ur.sc[c], 4);
      sc[r] = _mm512_set1_epi32(pair);
    }
#pragma GCC unroll 4
    for (size_t i = 0; i < P; ++i) {
      const __m512i xa = _mm512_load_si512(x[i * n_blocks].qs[2 * c]);
      const __m512i xb = _mm512_load_si512(x[i * n_blocks].qs[2 * c + 1]);
#pragma GCC unroll 4
      for (size_t r = 0; r < R; ++r) {
        // Groups of four: |sum| <= 4 * 15 * 128 fits the int16 words vpackssdw makes.
        const __m512i da = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qa[r], xa);
        const __m512i db = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qb[r], xb);
        isum[r][i] = _mm512_dpwssd_epi32(isum[r][i], _mm512_packs_epi32(da, db), sc[r]);
      }
    }
  }
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r) {
    const Q4KUnpacked& ur = u[r * n_blocks];
    const __m512 wd = _mm512_set1_ps(ur.d), wdmin = _mm512_set1_ps(ur.dmin);
    const __m512i m =
        _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ur.m)));
#pragma GCC unroll 4
    for (size_t i = 0; i < P; ++i) {
      const Q8KTokenPair& xi = x[i * n_blocks];
      const __m512 xd = _mm512_load_ps(xi.d);
      // The same float products as the dot's scalar d_w * d_x and dmin_w * d_x.
      acc[r][i] = _mm512_fmadd_ps(_mm512_mul_ps(wd, xd), _mm512_cvtepi32_ps(isum[r][i]), acc[r][i]);
      const __m512i mins = _mm512_madd_epi16(_mm512_load_si512(xi.bsums), m);
      mn[r][i] = _mm512_fmadd_ps(_mm512_mul_ps(wdmin, xd), _mm512_cvtepi32_ps(mins), mn[r][i]);
    }
  }
}

// R rows x P token pairs (n_tokens of them real: the last pair may hold one).
template <size_t R, size_t P>
void tile(const Q4KUnpacked* u, size_t n_blocks, const Q8KTokenPair* x, size_t n_tokens, float* out,
          size_t out_stride) {
  // The dot's acc0/min0 take the even blocks in order (its odd tail block included), acc1/min1
  // the odd ones: two independent chains, run one after the other so that only one parity's
  // accumulators need registers.
  __m512 acc[2][R][P], mn[2][R][P];
  for (size_t k = 0; k < 2; ++k) {
    __m512 a[R][P], m[R][P];
    for (size_t r = 0; r < R; ++r) {
      for (size_t i = 0; i < P; ++i) a[r][i] = m[r][i] = _mm512_setzero_ps();
    }
    for (size_t b = k; b < n_blocks; b += 2) block_step<R, P>(u + b, x + b, n_blocks, a, m);
    for (size_t r = 0; r < R; ++r) {
      for (size_t i = 0; i < P; ++i) {
        acc[k][r][i] = a[r][i];
        mn[k][r][i] = m[r][i];
      }
    }
  }
  // The dot's end: (acc0 + acc1) - (min0 + min1), then its horizontal sum.
  for (size_t r = 0; r < R; ++r) {
    for (size_t i = 0; i < P; ++i) {
      for (size_t h = 0; h < 2 && 2 * i + h < n_tokens; ++h) {
        const __m256 a = _mm256_add_ps(half_of(acc[0][r][i], h), half_of(acc[1][r][i], h));
        const __m256 m = _mm256_add_ps(half_of(mn[0][r][i], h), half_of(mn[1][r][i], h));
        out[(2 * i + h) * out_stride + r] = hsum256(_mm256_sub_ps(a, m));
      }
    }
  }
}

// The last tokens of a row group (fewer than 2 * kTilePairs, so at most kTilePairs pairs, the
// last of which may hold one token): one tile.
template <size_t R, size_t P>
void tail_tile(size_t n_pairs, const Q4KUnpacked* u, size_t n_blocks, const Q8KTokenPair* x,
               size_t n_tokens, float* out, size_t out_stride) {
  if constexpr (P > 0) {
    if (n_pairs == P) return tile<R, P>(u, n_blocks, x, n_tokens, out, out_stride);
    return tail_tile<R, P - 1>(n_pairs, u, n_blocks, x, n_tokens, out, out_stride);
  }
}

template <size_t R>
void row_group_tokens(const Q4KUnpacked* u, size_t n_blocks, const Q8KTokenPair* x, size_t n_tokens,
                      float* out, size_t out_stride) {
  constexpr size_t kTokens = 2 * kTilePairs;
  size_t t = 0;
  for (; t + kTokens <= n_tokens; t += kTokens) {
    tile<R, kTilePairs>(u, n_blocks, x + t / 2 * n_blocks, kTokens, out + t * out_stride,
                        out_stride);
  }
  tail_tile<R, kTilePairs>((n_tokens - t + 1) / 2, u, n_blocks, x + t / 2 * n_blocks, n_tokens - t,
                           out + t * out_stride, out_stride);
}

// n_rows <= R rows.
template <size_t R>
void rows_tile(size_t n_rows, const Q4KUnpacked* u, size_t n_blocks, const Q8KTokenPair* x,
               size_t n_tokens, float* out, size_t out_stride) {
  if constexpr (R > 0) {
    if (n_rows == R) return row_group_tokens<R>(u, n_blocks, x, n_tokens, out, out_stride);
    return rows_tile<R - 1>(n_rows, u, n_blocks, x, n_tokens, out, out_stride);
  }
}

void row_group(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, Q4KUnpacked* unpacked,
               const Q8KTokenPair* x, size_t n_tokens, float* out, size_t out_stride) {
  for (size_t r = 0; r < n_rows; ++r) {
    unpack_row(w + r * n_blocks, n_blocks, unpacked + r * n_blocks);
  }
  rows_tile<kTileRows>(n_rows, unpacked, n_blocks, x, n_tokens, out, out_stride);
}

}  // namespace

void matmul_q4_k_q8_k_avx512(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, const BlockQ8_K* x,
                             size_t n_tokens, float* out, size_t out_stride) {
  matmul_q4_k_tiled(&row_group, kTileRows, w, n_rows, n_blocks, x, n_tokens, out, out_stride);
}

}  // namespace sy::engine::kernels

#endif  // __x86_64__
