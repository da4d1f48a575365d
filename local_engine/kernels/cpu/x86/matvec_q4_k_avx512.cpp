// The AVX-512 multi-row Q4_K x Q8_K matvec (CpuKernels::matvec_q4_k_q8_k): groups of rows run
// avx512_kernels.cpp's dot_q4_k_q8_k steps interleaved, each row with its own accumulators and
// exactly the dot's operations in the dot's order (so every out[r] equals that dot bit for bit),
// sharing each activation load and prefetching the group's contiguous span ahead. Compiled with
// the same flags as avx512_kernels.cpp and, like it, shares no inline function with other files
// (the helpers below are that file's twins).

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/matmul_q4_k.h"

namespace sy::engine::kernels {
namespace {

constexpr size_t kRows = 4;
// As avx512_kernels.cpp's LinearPrefetch: interleaved rows are followed poorly by the hardware
// prefetchers, so the group prefetches its own span this far ahead.
constexpr size_t kPrefetchBytes = 8192;

inline float half(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum256(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// The 8 scales (bytes 0-7) and 8 mins (bytes 8-15) of a Q4_K block (layout in cpu_kernels.h).
inline __m128i q4_k_scales_mins(const uint8_t* packed) {
  uint32_t a, b, c;
  std::memcpy(&a, packed, 4);
  std::memcpy(&b, packed + 4, 4);
  std::memcpy(&c, packed + 8, 4);
  const uint32_t sc_lo = a & 0x3F3F3F3Fu;
  const uint32_t sc_hi = (c & 0x0F0F0F0Fu) | ((a >> 2) & 0x30303030u);
  const uint32_t m_lo = b & 0x3F3F3F3Fu;
  const uint32_t m_hi = ((c >> 4) & 0x0F0F0F0Fu) | ((b >> 2) & 0x30303030u);
  return _mm_setr_epi32(static_cast<int>(sc_lo), static_cast<int>(sc_hi), static_cast<int>(m_lo),
                        static_cast<int>(m_hi));
}

inline __m256i broadcast_word(__m256i v, int j) {
  return _mm256_shuffle_epi8(v, _mm256_set1_epi16(static_cast<short>(0x0100 + 0x0202 * j)));
}

// Block b of R rows (row r at w + r * stride) against x's block b: the dot's q4_k_block per row.
template <size_t R>
inline void rows_block(const BlockQ4_K* w, size_t stride, const BlockQ8_K& x, __m256 (&acc)[R],
                       __m256 (&acc_min)[R]) {
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums));
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256i scales[R], sum0[R], sum1[R];
  for (size_t r = 0; r < R; ++r) {
    const BlockQ4_K& wr = w[r * stride];
    const __m128i sm = q4_k_scales_mins(wr.scales);
    const __m128i m_pairs = _mm_shuffle_epi8(
        sm, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
    const __m256i mins = _mm256_madd_epi16(bsums, _mm256_cvtepu8_epi16(m_pairs));
    acc_min[r] = _mm256_fmadd_ps(_mm256_set1_ps(half(wr.dmin) * x.d), _mm256_cvtepi32_ps(mins),
                                 acc_min[r]);
    scales[r] = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    sum0[r] = sum1[r] = _mm256_setzero_si256();
  }
  for (int c = 0; c < 4; ++c) {
    const __m256i x_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 64 * c));
    const __m256i x_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 64 * c + 32));
    for (size_t r = 0; r < R; ++r) {
      const __m256i q =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r * stride].qs + 32 * c));
      const __m256i lo = _mm256_and_si256(q, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      sum0[r] = _mm256_dpwssd_epi32(sum0[r], _mm256_maddubs_epi16(lo, x_lo),
                                    broadcast_word(scales[r], 2 * c));
      sum1[r] = _mm256_dpwssd_epi32(sum1[r], _mm256_maddubs_epi16(hi, x_hi),
                                    broadcast_word(scales[r], 2 * c + 1));
    }
  }
  for (size_t r = 0; r < R; ++r) {
    acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(half(w[r * stride].d) * x.d),
                             _mm256_cvtepi32_ps(_mm256_add_epi32(sum0[r], sum1[r])), acc[r]);
  }
}

// R consecutive rows: even blocks into acc0/min0, odd into acc1/min1, an odd tail into the
// first, then the dot's end, per row.
template <size_t R>
void rows(const BlockQ4_K* w, size_t n_blocks, const BlockQ8_K* x, float* out) {
  __m256 acc[2][R], mn[2][R];
  for (size_t k = 0; k < 2; ++k) {
    for (size_t r = 0; r < R; ++r) acc[k][r] = mn[k][r] = _mm256_setzero_ps();
  }
  const char* span = reinterpret_cast<const char*>(w);
  const char* next = span + kPrefetchBytes;
  const char* end = span + R * n_blocks * sizeof(BlockQ4_K) + kPrefetchBytes;
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    for (const char* want = std::min(end, span + kPrefetchBytes + (b + 2) * R * sizeof(BlockQ4_K));
         next < want; next += 64) {
      _mm_prefetch(next, _MM_HINT_T0);
    }
    rows_block<R>(w + b, n_blocks, x[b], acc[0], mn[0]);
    rows_block<R>(w + b + 1, n_blocks, x[b + 1], acc[1], mn[1]);
  }
  if (b < n_blocks) rows_block<R>(w + b, n_blocks, x[b], acc[0], mn[0]);
  for (size_t r = 0; r < R; ++r) {
    out[r] = hsum256(_mm256_sub_ps(_mm256_add_ps(acc[0][r], acc[1][r]),
                                   _mm256_add_ps(mn[0][r], mn[1][r])));
  }
}

}  // namespace

void matvec_q4_k_q8_k_avx512(const BlockQ4_K* w, size_t n_rows, const BlockQ8_K* x,
                             size_t n_blocks, float* out) {
  size_t r = 0;
  for (; r + kRows <= n_rows; r += kRows) rows<kRows>(w + r * n_blocks, n_blocks, x, out + r);
  for (; r < n_rows; ++r) rows<1>(w + r * n_blocks, n_blocks, x, out + r);
}

}  // namespace sy::engine::kernels

#endif  // __x86_64__
