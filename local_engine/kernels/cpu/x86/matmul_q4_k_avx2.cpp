// The AVX2 (+ FMA, F16C) Q4_K x Q8_K matmul tiles (matmul_q4_k.h), for processors without
// AVX-512. Compiled with avx2_kernels.cpp's flags and, like it, shares no inline function with
// other files (the unpacking is q4_k_unpack_x86.h's, a private copy per file). Each tile follows avx2_kernels.cpp's
// dot_q4_k_q8_k lane for lane: per run of two sub-blocks (matmul_q4_k.h's A/B order),
// vpmaddubsw then vpmaddwd with each group's sub-block scale gives the scaled groups in the
// dword order A and B hold them, and one vphaddd puts group i in lane i: the same exact int32
// lanes as the dot; per super-block, the lanes to float times d_w * d_x into the block's chain
// (even or odd), and the mins' lanes times dmin_w * d_x into theirs.

#if defined(__x86_64__)

#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/matmul_q4_k.h"
#include "kernels/cpu/x86/q4_k_unpack_x86.h"

namespace sy::engine::kernels {
namespace {

// 2 rows x 2 tokens (one token pair): 4 accumulators and a step's operands fit 16 registers.
constexpr size_t kTileRows = 2;

inline float hsum(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// Block b of R rows x the T tokens of one pair (token h in half h of x's rows) into one
// parity's sums.
template <size_t R, size_t T>
inline void block_step(const Q4KUnpacked* u, const Q8KTokenPair& x, size_t n_blocks,
                       __m256 (&acc)[R][T], __m256 (&mn)[R][T]) {
  __m256i isum[R][T];
  for (size_t r = 0; r < R; ++r) {
    for (size_t h = 0; h < T; ++h) isum[r][h] = _mm256_setzero_si256();
  }
  for (int c = 0; c < 4; ++c) {
    for (size_t r = 0; r < R; ++r) {
      const Q4KUnpacked& ur = u[r * n_blocks];
      const __m256i qa = _mm256_load_si256(reinterpret_cast<const __m256i*>(ur.q[2 * c]));
      const __m256i qb = _mm256_load_si256(reinterpret_cast<const __m256i*>(ur.q[2 * c + 1]));
      int32_t pair;
      std::memcpy(&pair, ur.sc[c], 4);
      // (sc_2c, sc_2c, sc_2c+1, sc_2c+1): A and B alternate the two sub-blocks by dword.
      const __m256i b = _mm256_set1_epi32(pair);
      const __m256i sc = _mm256_unpacklo_epi16(b, b);
      for (size_t h = 0; h < T; ++h) {
        const __m256i xa =
            _mm256_load_si256(reinterpret_cast<const __m256i*>(x.qs[2 * c] + 32 * h));
        const __m256i xb =
            _mm256_load_si256(reinterpret_cast<const __m256i*>(x.qs[2 * c + 1] + 32 * h));
        // |pair of products| <= 2 * 15 * 128: vpmaddubsw does not saturate.
        const __m256i da = _mm256_madd_epi16(_mm256_maddubs_epi16(qa, xa), sc);
        const __m256i db = _mm256_madd_epi16(_mm256_maddubs_epi16(qb, xb), sc);
        isum[r][h] = _mm256_add_epi32(isum[r][h], _mm256_hadd_epi32(da, db));
      }
    }
  }
  for (size_t r = 0; r < R; ++r) {
    const Q4KUnpacked& ur = u[r * n_blocks];
    const __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ur.m));
    for (size_t h = 0; h < T; ++h) {
      const __m256 xd = _mm256_load_ps(x.d + 8 * h);
      // The same float products as the dot's scalar d_w * d_x and dmin_w * d_x.
      acc[r][h] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(ur.d), xd),
                                  _mm256_cvtepi32_ps(isum[r][h]), acc[r][h]);
      const __m256i bsums = _mm256_load_si256(reinterpret_cast<const __m256i*>(x.bsums + 16 * h));
      mn[r][h] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(ur.dmin), xd),
                                 _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums, m)), mn[r][h]);
    }
  }
}

// R rows x the first T tokens of token pair x (row r's unpacked blocks at u + r * n_blocks).
template <size_t R, size_t T>
void tile(const Q4KUnpacked* u, size_t n_blocks, const Q8KTokenPair* x, float* out,
          size_t out_stride) {
  // The dot's acc0/min0 take the even blocks in order, acc1/min1 the odd ones: independent
  // chains, run one after the other.
  __m256 acc[2][R][T], mn[2][R][T];
  for (size_t k = 0; k < 2; ++k) {
    __m256 a[R][T], m[R][T];
    for (size_t r = 0; r < R; ++r) {
      for (size_t h = 0; h < T; ++h) a[r][h] = m[r][h] = _mm256_setzero_ps();
    }
    for (size_t b = k; b < n_blocks; b += 2) block_step<R, T>(u + b, x[b], n_blocks, a, m);
    for (size_t r = 0; r < R; ++r) {
      for (size_t h = 0; h < T; ++h) {
        acc[k][r][h] = a[r][h];
        mn[k][r][h] = m[r][h];
      }
    }
  }
  for (size_t r = 0; r < R; ++r) {
    for (size_t h = 0; h < T; ++h) {
      out[h * out_stride + r] = hsum(_mm256_sub_ps(_mm256_add_ps(acc[0][r][h], acc[1][r][h]),
                                                   _mm256_add_ps(mn[0][r][h], mn[1][r][h])));
    }
  }
}

template <size_t R>
void row_group_tokens(const Q4KUnpacked* u, size_t n_blocks, const Q8KTokenPair* x, size_t n_tokens,
                      float* out, size_t out_stride) {
  size_t t = 0;
  for (; t + 2 <= n_tokens; t += 2) {
    tile<R, 2>(u, n_blocks, x + t / 2 * n_blocks, out + t * out_stride, out_stride);
  }
  if (t < n_tokens) tile<R, 1>(u, n_blocks, x + t / 2 * n_blocks, out + t * out_stride, out_stride);
}

void row_group(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, Q4KUnpacked* unpacked,
               const Q8KTokenPair* x, size_t n_tokens, float* out, size_t out_stride) {
  for (size_t r = 0; r < n_rows; ++r) {
    unpack_row(w + r * n_blocks, n_blocks, unpacked + r * n_blocks);
  }
  if (n_rows == 2) return row_group_tokens<2>(unpacked, n_blocks, x, n_tokens, out, out_stride);
  row_group_tokens<1>(unpacked, n_blocks, x, n_tokens, out, out_stride);
}

}  // namespace

void matmul_q4_k_q8_k_avx2(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, const BlockQ8_K* x,
                           size_t n_tokens, float* out, size_t out_stride) {
  matmul_q4_k_tiled(&row_group, kTileRows, w, n_rows, n_blocks, x, n_tokens, out, out_stride);
}

}  // namespace sy::engine::kernels

#endif  // __x86_64__
