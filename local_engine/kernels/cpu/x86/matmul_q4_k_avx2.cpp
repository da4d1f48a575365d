// The AVX2 Q4_K x Q8_K row-group kernel (matmul_q4_k.h): a 256-bit register holds 8 of a group's
// 16 rows, one a 32-bit lane, so a group runs as two halves. Per sub-block pair and token: for
// each of the 8 qs registers of the half, the low and high nibbles meet a broadcast of the
// token's 4 matching activation bytes in vpmaddubsw (|pair| <= 2 * 15 * 127); the 8 words of a
// sub-block add up in int16 (|sum| <= 8 * 3810 < 2^15), then one vpmaddwd with the rows'
// (sc_j, sc_j) word pairs gives sc_j * (q . x)_j exactly in int32, so S_b and, through vpmaddwd
// on bsums, M_b are the contract's integers (cpu_kernels.h), followed by its two fmas. Same
// bits as every set's dot. Compiled with the AVX2 flags of avx2_kernels.cpp; shares no inline
// function with other files.

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/matmul_q4_k.h"
#include "kernels/cpu/side_prefetch.h"

namespace sy::engine::kernels {
namespace {

// Activations per chunk of tokens, at most, so that they stay in L2 while a group's tiles pass.
constexpr size_t kChunkBytes = 384 * 1024;
constexpr size_t kTileTokens = 2;

// One super-block's scales of a group half (8 rows): sc[j] and m[j] = (scale_j, scale_j) and
// (m_j, m_j) word pairs in each row's 32-bit lane; d, dmin the rows' fp16 scales widened.
struct alignas(32) HalfScales {
  int32_t sc[8][8];
  int32_t m[8][8];
  float d[8];
  float dmin[8];
};

// Byte j of every 32-bit lane in both of its words (zero-extended).
inline __m256i lane_byte_twice(__m256i v, int j) {
  auto ctrl = [j](unsigned at) {
    return static_cast<int>(0x80008000u | (at + j) | (at + j) << 16);
  };
  const __m128i c = _mm_setr_epi32(ctrl(0), ctrl(4), ctrl(8), ctrl(12));
  return _mm256_shuffle_epi8(v, _mm256_set_m128i(c, c));
}

// Half h (rows 8h..8h+7) of super-block g's scales, the 6-bit packing of cpu_kernels.h.
void unpack_scales(const RowGroupQ4_K& g, size_t h, HalfScales& s) {
  const __m256i m3f = _mm256_set1_epi32(0x3F3F3F3F), m0f = _mm256_set1_epi32(0x0F0F0F0F);
  const __m256i m30 = _mm256_set1_epi32(0x30303030);
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.scales[0] + 8 * h));
  const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.scales[1] + 8 * h));
  const __m256i z = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.scales[2] + 8 * h));
  const __m256i sc_lo = _mm256_and_si256(x, m3f);
  const __m256i sc_hi =
      _mm256_or_si256(_mm256_and_si256(z, m0f), _mm256_and_si256(_mm256_srli_epi32(x, 2), m30));
  const __m256i m_lo = _mm256_and_si256(y, m3f);
  const __m256i m_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(z, 4), m0f),
                                       _mm256_and_si256(_mm256_srli_epi32(y, 2), m30));
  for (int j = 0; j < 4; ++j) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(s.sc[j]), lane_byte_twice(sc_lo, j));
    _mm256_store_si256(reinterpret_cast<__m256i*>(s.sc[j + 4]), lane_byte_twice(sc_hi, j));
    _mm256_store_si256(reinterpret_cast<__m256i*>(s.m[j]), lane_byte_twice(m_lo, j));
    _mm256_store_si256(reinterpret_cast<__m256i*>(s.m[j + 4]), lane_byte_twice(m_hi, j));
  }
  _mm256_store_ps(s.d,
                  _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g.d + 8 * h))));
  _mm256_store_ps(
      s.dmin, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g.dmin + 8 * h))));
}

inline __m256i broadcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Half h of one group x T tokens (token t's blocks at x + t * n_blocks): out[t * out_stride + i]
// for the half's rows i.
template <size_t T>
void tile(const RowGroupQ4_K* w, size_t h, size_t n_blocks, const BlockQ8_K* x, float* out,
          size_t out_stride, SidePrefetch* side) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc[T];
  for (size_t t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  HalfScales s;
  for (size_t b = 0; b < n_blocks; ++b) {
    if (side != nullptr) side->step();
    const RowGroupQ4_K& g = w[b];
    unpack_scales(g, h, s);
    __m256i sum[T];  // S_b
    for (size_t t = 0; t < T; ++t) sum[t] = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      __m256i lo16[T], hi16[T];  // word sums of sub-blocks 2c and 2c + 1
      for (size_t t = 0; t < T; ++t) lo16[t] = hi16[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        const __m256i q =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.qs[8 * c + k] + 32 * h));
        const __m256i lo = _mm256_and_si256(q, low4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
        for (size_t t = 0; t < T; ++t) {
          const int8_t* xq = x[t * n_blocks + b].qs + 64 * c + 4 * k;
          lo16[t] = _mm256_add_epi16(lo16[t], _mm256_maddubs_epi16(lo, broadcast32(xq)));
          hi16[t] = _mm256_add_epi16(hi16[t], _mm256_maddubs_epi16(hi, broadcast32(xq + 32)));
        }
      }
      const __m256i sc_lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(s.sc[2 * c]));
      const __m256i sc_hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(s.sc[2 * c + 1]));
      for (size_t t = 0; t < T; ++t) {
        sum[t] = _mm256_add_epi32(sum[t], _mm256_add_epi32(_mm256_madd_epi16(lo16[t], sc_lo),
                                                           _mm256_madd_epi16(hi16[t], sc_hi)));
      }
    }
    const __m256 d = _mm256_load_ps(s.d), dmin = _mm256_load_ps(s.dmin);
    for (size_t t = 0; t < T; ++t) {
      const BlockQ8_K& xt = x[t * n_blocks + b];
      __m256i mins = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {
        const __m256i m = _mm256_load_si256(reinterpret_cast<const __m256i*>(s.m[j]));
        mins = _mm256_add_epi32(mins, _mm256_madd_epi16(m, broadcast32(xt.bsums + 2 * j)));
      }
      const __m256 xd = _mm256_set1_ps(xt.d);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]), _mm256_mul_ps(d, xd), acc[t]);
      acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_mul_ps(dmin, xd), acc[t]);
    }
  }
  for (size_t t = 0; t < T; ++t) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

// One group (both halves) x one token, in one pass over the group's blocks: decode reads each
// weight line once, in address order.
void tile_one_token(const RowGroupQ4_K* w, size_t n_blocks, const BlockQ8_K* x, float* out,
                    SidePrefetch* side) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  HalfScales s[2];
  for (size_t b = 0; b < n_blocks; ++b) {
    if (side != nullptr) side->step();
    const RowGroupQ4_K& g = w[b];
    const BlockQ8_K& xb = x[b];
    unpack_scales(g, 0, s[0]);
    unpack_scales(g, 1, s[1]);
    __m256i sum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int c = 0; c < 4; ++c) {
      __m256i lo16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
      __m256i hi16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        const __m256i xa = broadcast32(xb.qs + 64 * c + 4 * k);
        const __m256i xh = broadcast32(xb.qs + 64 * c + 32 + 4 * k);
        for (size_t h = 0; h < 2; ++h) {
          const __m256i q =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.qs[8 * c + k] + 32 * h));
          const __m256i lo = _mm256_and_si256(q, low4);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
          lo16[h] = _mm256_add_epi16(lo16[h], _mm256_maddubs_epi16(lo, xa));
          hi16[h] = _mm256_add_epi16(hi16[h], _mm256_maddubs_epi16(hi, xh));
        }
      }
      for (size_t h = 0; h < 2; ++h) {
        const auto* sc = reinterpret_cast<const __m256i*>(s[h].sc[2 * c]);
        sum[h] = _mm256_add_epi32(
            sum[h], _mm256_add_epi32(_mm256_madd_epi16(lo16[h], _mm256_load_si256(sc)),
                                     _mm256_madd_epi16(hi16[h], _mm256_load_si256(sc + 1))));
      }
    }
    const __m256 xd = _mm256_set1_ps(xb.d);
    for (size_t h = 0; h < 2; ++h) {
      __m256i mins = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {
        const __m256i m = _mm256_load_si256(reinterpret_cast<const __m256i*>(s[h].m[j]));
        mins = _mm256_add_epi32(mins, _mm256_madd_epi16(m, broadcast32(xb.bsums + 2 * j)));
      }
      acc[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[h]),
                               _mm256_mul_ps(_mm256_load_ps(s[h].d), xd), acc[h]);
      acc[h] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mins),
                                _mm256_mul_ps(_mm256_load_ps(s[h].dmin), xd), acc[h]);
    }
  }
  _mm256_storeu_ps(out, acc[0]);
  _mm256_storeu_ps(out + 8, acc[1]);
}

// One group over n_tokens tokens, both halves; `side` steps in the first tile.
void group_tokens(const RowGroupQ4_K* w, size_t n_blocks, const BlockQ8_K* x, size_t n_tokens,
                  float* out, size_t out_stride, SidePrefetch* side) {
  if (n_tokens == 1) return tile_one_token(w, n_blocks, x, out, side);
  for (size_t h = 0; h < 2; ++h) {
    size_t t = 0;
    for (; t + kTileTokens <= n_tokens; t += kTileTokens) {
      tile<kTileTokens>(w, h, n_blocks, x + t * n_blocks, out + t * out_stride + 8 * h, out_stride,
                        side);
      side = nullptr;
    }
    if (t < n_tokens) {
      tile<1>(w, h, n_blocks, x + t * n_blocks, out + t * out_stride + 8 * h, 0, side);
      side = nullptr;
    }
  }
}
static_assert(kTileTokens == 2, "group_tokens' tail is one token");

}  // namespace

void matmul_q4_k_groups_avx2(const RowGroupQ4_K* w, size_t n_groups, size_t n_blocks,
                             const BlockQ8_K* x, size_t n_tokens, float* out, size_t out_stride,
                             SidePrefetch* side) {
  if (n_groups == 0 || n_tokens == 0 || n_blocks == 0) return;
  const size_t chunk = std::max<size_t>(
      kTileTokens, kChunkBytes / (n_blocks * sizeof(BlockQ8_K)) / kTileTokens * kTileTokens);
  for (size_t t0 = 0; t0 < n_tokens; t0 += chunk) {
    const size_t nt = std::min(chunk, n_tokens - t0);
    for (size_t g = 0; g < n_groups; ++g) {
      group_tokens(w + g * n_blocks, n_blocks, x + t0 * n_blocks, nt,
                   out + t0 * out_stride + kGroupRows * g, out_stride, t0 == 0 ? side : nullptr);
    }
  }
}

void matmul_q4_k_q8_k_avx2(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, const BlockQ8_K* x,
                           size_t n_tokens, float* out, size_t out_stride) {
  matmul_q4_k_rows_via_groups(&matmul_q4_k_groups_avx2, w, n_rows, n_blocks, x, n_tokens, out,
                              out_stride);
}

}  // namespace sy::engine::kernels

#endif  // __x86_64__
