// The AVX-512 (BW, VNNI) Q4_K x Q8_K matmul tiles (matmul_q4_k.h). Compiled with the same flags
// as avx512_kernels.cpp and, like it, shares no inline function with other files. Each tile
// follows avx512_kernels.cpp's dot_q4_k_q8_k lane for lane: per sub-block j, vpmaddubsw of the
// nibbles with the quants, then vpdpwssd with the sub-block's scale into int32 lane i (= the
// sums of elements 4i..4i+3 of every sub-block, scaled: exact integers, so their order is free);
// per super-block, the lanes to float times d_w * d_x into the block's accumulator, and the
// mins' lanes (bsums pairs times m_j, vpmaddwd) times dmin_w * d_x into its own.

#if defined(__x86_64__)

#include <immintrin.h>

#include "kernels/cpu/matmul_q4_k.h"

namespace sy::engine::kernels {
namespace {

constexpr size_t kTileRows = 4;
constexpr size_t kTileTokens = 4;

inline float hsum256(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline __m256 high_half(__m512 v) {
  return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

// Pair p (super-blocks 2p and 2p + 1, Full = false for an odd tail: 2p alone) of R rows x T
// tokens. w: block 2p of row 0 (row r at w + r * n_blocks); s, x: pair p of row 0 / token 0
// (row r at s + r * pairs, token t at x + t * pairs).
template <size_t R, size_t T, bool Full>
inline void pair_step(const BlockQ4_K* w, size_t n_blocks, const Q4KPairScales* s,
                      const Q8KPair* x, size_t pairs, __m512 (&acc)[R][T], __m512 (&mn)[R][T]) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512i isum[R][T];
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (size_t t = 0; t < T; ++t) isum[r][t] = _mm512_setzero_si512();
  }
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {
    __m512i q[R], sc[R];
    const __m512i bcast = _mm512_set1_epi16(static_cast<short>(0x0100 + 0x0202 * j));
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r) {
      const BlockQ4_K* b = w + r * n_blocks;
      __m512i bytes = _mm512_zextsi256_si512(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[0].qs + 32 * (j / 2))));
      if constexpr (Full) {
        bytes = _mm512_inserti64x4(
            bytes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[1].qs + 32 * (j / 2))),
            1);
      }
      q[r] = _mm512_and_si512(j % 2 == 0 ? bytes : _mm512_srli_epi16(bytes, 4), low4);
      sc[r] = _mm512_shuffle_epi8(_mm512_load_si512(s[r * pairs].sc), bcast);
    }
#pragma GCC unroll 4
    for (size_t t = 0; t < T; ++t) {
      const __m512i xq = _mm512_load_si512(x[t * pairs].qs[j]);
#pragma GCC unroll 4
      for (size_t r = 0; r < R; ++r) {
        // |pair of products| <= 2 * 15 * 127: vpmaddubsw does not saturate.
        isum[r][t] = _mm512_dpwssd_epi32(isum[r][t], _mm512_maddubs_epi16(q[r], xq), sc[r]);
      }
    }
  }
  constexpr __mmask16 kLanes = Full ? 0xFFFF : 0x00FF;
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r) {
    const Q4KPairScales& sr = s[r * pairs];
    const __m512 wd = _mm512_load_ps(sr.d), wdmin = _mm512_load_ps(sr.dmin);
    const __m512i m = _mm512_load_si512(sr.m);
#pragma GCC unroll 4
    for (size_t t = 0; t < T; ++t) {
      const Q8KPair& xt = x[t * pairs];
      const __m512 xd = _mm512_load_ps(xt.d);
      // The same float products as the dot's scalar d_w * d_x and dmin_w * d_x.
      acc[r][t] = _mm512_mask3_fmadd_ps(_mm512_mul_ps(wd, xd), _mm512_cvtepi32_ps(isum[r][t]),
                                        acc[r][t], kLanes);
      const __m512i mins = _mm512_madd_epi16(_mm512_load_si512(xt.bsums), m);
      mn[r][t] = _mm512_mask3_fmadd_ps(_mm512_mul_ps(wdmin, xd), _mm512_cvtepi32_ps(mins),
                                       mn[r][t], kLanes);
    }
  }
}

template <size_t R, size_t T>
void tile(const BlockQ4_K* w, size_t n_blocks, const Q4KPairScales* s, const Q8KPair* x,
          float* out, size_t out_stride) {
  const size_t pairs = (n_blocks + 1) / 2;
  __m512 acc[R][T], mn[R][T];
  for (size_t r = 0; r < R; ++r) {
    for (size_t t = 0; t < T; ++t) acc[r][t] = mn[r][t] = _mm512_setzero_ps();
  }
  const size_t full = n_blocks / 2;
  for (size_t p = 0; p < full; ++p) {
    pair_step<R, T, true>(w + 2 * p, n_blocks, s + p, x + p, pairs, acc, mn);
  }
  if (full < pairs) pair_step<R, T, false>(w + 2 * full, n_blocks, s + full, x + full, pairs, acc, mn);
  // The dot's end: (acc0 + acc1) - (min0 + min1), then its horizontal sum.
  for (size_t r = 0; r < R; ++r) {
    for (size_t t = 0; t < T; ++t) {
      const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(acc[r][t]), high_half(acc[r][t]));
      const __m256 m = _mm256_add_ps(_mm512_castps512_ps256(mn[r][t]), high_half(mn[r][t]));
      out[t * out_stride + r] = hsum256(_mm256_sub_ps(a, m));
    }
  }
}

template <size_t R>
void row_group_tokens(const BlockQ4_K* w, size_t n_blocks, const Q4KPairScales* s,
                      const Q8KPair* x, size_t n_tokens, float* out, size_t out_stride) {
  const size_t pairs = (n_blocks + 1) / 2;
  size_t t = 0;
  for (; t + kTileTokens <= n_tokens; t += kTileTokens) {
    tile<R, kTileTokens>(w, n_blocks, s, x + t * pairs, out + t * out_stride, out_stride);
  }
  const Q8KPair* xt = x + t * pairs;
  float* o = out + t * out_stride;
  switch (n_tokens - t) {
    case 3:
      return tile<R, 3>(w, n_blocks, s, xt, o, out_stride);
    case 2:
      return tile<R, 2>(w, n_blocks, s, xt, o, out_stride);
    case 1:
      return tile<R, 1>(w, n_blocks, s, xt, o, out_stride);
    default:
      return;
  }
}

void row_group(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, const Q4KPairScales* s,
               const Q8KPair* x, size_t n_tokens, float* out, size_t out_stride) {
  switch (n_rows) {
    case 4:
      return row_group_tokens<4>(w, n_blocks, s, x, n_tokens, out, out_stride);
    case 3:
      return row_group_tokens<3>(w, n_blocks, s, x, n_tokens, out, out_stride);
    case 2:
      return row_group_tokens<2>(w, n_blocks, s, x, n_tokens, out, out_stride);
    default:
      return row_group_tokens<1>(w, n_blocks, s, x, n_tokens, out, out_stride);
  }
}

}  // namespace

void matmul_q4_k_q8_k_avx512(const BlockQ4_K* w, size_t n_rows, size_t n_blocks,
                             const BlockQ8_K* x, size_t n_tokens, float* out, size_t out_stride) {
  matmul_q4_k_tiled(&row_group, kTileRows, w, n_rows, n_blocks, x, n_tokens, out, out_stride);
}

}  // namespace sy::engine::kernels

#endif  // __x86_64__
