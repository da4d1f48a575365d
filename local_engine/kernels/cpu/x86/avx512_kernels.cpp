// AVX-512 (F, BW, VL, VNNI) overrides; compiled with those flags alone (see avx2_kernels.cpp for
// why nothing here is shared). Quantized dots use 256-bit VNNI (vpdpbusd): on Zen 4 512-bit
// instructions run as two halves, so 256 bits reach the same peak with less unpacking.

#if defined(__x86_64__)

#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/cpu_kernels.h"

namespace sy::engine::kernels {
namespace {

inline float half(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum256(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

float dot_f32(const float* a, const float* b, size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i + 16 <= n) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    i += 16;
  }
  if (i < n) {  // masked tail: no scalar loop
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

float dot_f16_f32(const uint16_t* a, const float* b, size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 a0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)));
    __m512 a1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i + 16)));
    acc0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(b + i + 16), acc1);
  }
  for (; i < n; i += 16) {
    const size_t left = n - i < 16 ? n - i : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << left) - 1);
    __m512 a0 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + i));
    acc0 = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, b + i), acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// |w| (unsigned) times x carrying w's sign, summed in groups of four into 8 int32 lanes.
inline __m256 int8_dot(__m256i w, __m256i x) {
  const __m256i ax = _mm256_sign_epi8(w, w);
  const __m256i sy = _mm256_sign_epi8(x, w);
  return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sy));
}

inline __m256i unpack_q4(const uint8_t* qs) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(bytes, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
}

float dot_q8_0_q8_0(const BlockQ8_0* w, const BlockQ8_0* x, size_t n_blocks) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    const __m256 d0 = _mm256_set1_ps(half(w[b].d) * half(x[b].d));
    const __m256 d1 = _mm256_set1_ps(half(w[b + 1].d) * half(x[b + 1].d));
    acc0 = _mm256_fmadd_ps(d0,
                           int8_dot(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs)),
                                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs))),
                           acc0);
    acc1 =
        _mm256_fmadd_ps(d1,
                        int8_dot(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b + 1].qs)),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b + 1].qs))),
                        acc1);
  }
  for (; b < n_blocks; ++b) {
    const __m256 d = _mm256_set1_ps(half(w[b].d) * half(x[b].d));
    acc0 = _mm256_fmadd_ps(d,
                           int8_dot(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs)),
                                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs))),
                           acc0);
  }
  return hsum256(_mm256_add_ps(acc0, acc1));
}

float dot_q4_0_q8_0(const BlockQ4_0* w, const BlockQ8_0* x, size_t n_blocks) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    const __m256 d0 = _mm256_set1_ps(half(w[b].d) * half(x[b].d));
    const __m256 d1 = _mm256_set1_ps(half(w[b + 1].d) * half(x[b + 1].d));
    acc0 = _mm256_fmadd_ps(
        d0,
        int8_dot(unpack_q4(w[b].qs), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs))),
        acc0);
    acc1 =
        _mm256_fmadd_ps(d1,
                        int8_dot(unpack_q4(w[b + 1].qs),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b + 1].qs))),
                        acc1);
  }
  for (; b < n_blocks; ++b) {
    const __m256 d = _mm256_set1_ps(half(w[b].d) * half(x[b].d));
    acc0 = _mm256_fmadd_ps(
        d,
        int8_dot(unpack_q4(w[b].qs), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs))),
        acc0);
  }
  return hsum256(_mm256_add_ps(acc0, acc1));
}

// bf16 is the top half of an f32: widening is exact and costs two cheap ops per 16 elements, far
// under what memory delivers, so vdpbf16ps (which would round the activations to bf16) does not
// pay for a matvec.
inline __m512 widen_bf16(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

float dot_bf16_f32(const uint16_t* a, const float* b, size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const auto* p = reinterpret_cast<const __m256i*>(a + i);
    acc0 = _mm512_fmadd_ps(widen_bf16(_mm256_loadu_si256(p)), _mm512_loadu_ps(b + i), acc0);
    acc1 =
        _mm512_fmadd_ps(widen_bf16(_mm256_loadu_si256(p + 1)), _mm512_loadu_ps(b + i + 16), acc1);
    acc2 =
        _mm512_fmadd_ps(widen_bf16(_mm256_loadu_si256(p + 2)), _mm512_loadu_ps(b + i + 32), acc2);
    acc3 =
        _mm512_fmadd_ps(widen_bf16(_mm256_loadu_si256(p + 3)), _mm512_loadu_ps(b + i + 48), acc3);
  }
  for (; i < n; i += 16) {  // masked tail
    const size_t left = n - i < 16 ? n - i : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << left) - 1);
    acc0 = _mm512_fmadd_ps(widen_bf16(_mm256_maskz_loadu_epi16(m, a + i)),
                           _mm512_maskz_loadu_ps(m, b + i), acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
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

// As in avx2_kernels.cpp, with vpdpwssd fusing each scale multiply-add (VNNI).
inline void q4_k_block(const BlockQ4_K& w, const BlockQ8_K& x, __m256& acc, __m256& acc_min) {
  const __m128i sm = q4_k_scales_mins(w.scales);
  const __m128i m_pairs = _mm_shuffle_epi8(
      sm, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums));
  const __m256i mins = _mm256_madd_epi16(bsums, _mm256_cvtepu8_epi16(m_pairs));
  acc_min = _mm256_fmadd_ps(_mm256_set1_ps(half(w.dmin) * x.d), _mm256_cvtepi32_ps(mins), acc_min);
  const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256i sum0 = _mm256_setzero_si256(), sum1 = _mm256_setzero_si256();
  for (int c = 0; c < 4; ++c) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * c));
    const __m256i lo = _mm256_and_si256(q, low4);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
    const __m256i x_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 64 * c));
    const __m256i x_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 64 * c + 32));
    sum0 = _mm256_dpwssd_epi32(sum0, _mm256_maddubs_epi16(lo, x_lo), broadcast_word(scales, 2 * c));
    sum1 = _mm256_dpwssd_epi32(sum1, _mm256_maddubs_epi16(hi, x_hi),
                               broadcast_word(scales, 2 * c + 1));
  }
  acc = _mm256_fmadd_ps(_mm256_set1_ps(half(w.d) * x.d),
                        _mm256_cvtepi32_ps(_mm256_add_epi32(sum0, sum1)), acc);
}

float dot_q4_k_q8_k(const BlockQ4_K* w, const BlockQ8_K* x, size_t n_blocks) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 min0 = _mm256_setzero_ps(), min1 = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    q4_k_block(w[b], x[b], acc0, min0);
    q4_k_block(w[b + 1], x[b + 1], acc1, min1);
  }
  if (b < n_blocks) q4_k_block(w[b], x[b], acc0, min0);
  return hsum256(_mm256_sub_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(min0, min1)));
}

inline void q6_k_block(const BlockQ6_K& w, const BlockQ8_K& x, __m256& acc) {
  const __m256i scales =
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales)));
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums));
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  // Start from -32 * sum_k sc_k * bsum_k: the quants stay unsigned for maddubs.
  __m256i sum0 = _mm256_slli_epi32(
      _mm256_madd_epi16(_mm256_sub_epi16(_mm256_setzero_si256(), bsums), scales), 5);
  __m256i sum1 = _mm256_setzero_si256();
  for (int h = 0; h < 2; ++h) {
    const __m256i sc = _mm256_permute4x64_epi64(scales, h == 0 ? 0x44 : 0xEE);
    const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.ql + 64 * h));
    const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.ql + 64 * h + 32));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qh + 32 * h));
    const __m256i q[4] = {
        _mm256_or_si256(_mm256_and_si256(ql0, low4),
                        _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4)),
        _mm256_or_si256(_mm256_and_si256(ql1, low4),
                        _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0C)), 2)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                        _mm256_and_si256(qh, _mm256_set1_epi8(0x30))),
        _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
            _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(static_cast<char>(0xC0))), 2)),
    };
    for (int g = 0; g < 4; ++g) {
      const __m256i xg =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 128 * h + 32 * g));
      const __m256i sc_g = _mm256_shuffle_epi8(
          sc, _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(0x0302 + 0x0404 * g)),
                               _mm_set1_epi16(static_cast<short>(0x0100 + 0x0404 * g))));
      if (g % 2 == 0) {
        sum0 = _mm256_dpwssd_epi32(sum0, _mm256_maddubs_epi16(q[g], xg), sc_g);
      } else {
        sum1 = _mm256_dpwssd_epi32(sum1, _mm256_maddubs_epi16(q[g], xg), sc_g);
      }
    }
  }
  acc = _mm256_fmadd_ps(_mm256_set1_ps(half(w.d) * x.d),
                        _mm256_cvtepi32_ps(_mm256_add_epi32(sum0, sum1)), acc);
}

float dot_q6_k_q8_k(const BlockQ6_K* w, const BlockQ8_K* x, size_t n_blocks) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    q6_k_block(w[b], x[b], acc0);
    q6_k_block(w[b + 1], x[b + 1], acc1);
  }
  if (b < n_blocks) q6_k_block(w[b], x[b], acc0);
  return hsum256(_mm256_add_ps(acc0, acc1));
}

}  // namespace

extern const CpuKernels kAvx512Kernels{"avx512",       &dot_f32,       &dot_f16_f32,
                                       &dot_q8_0_q8_0, &dot_q4_0_q8_0, &dot_bf16_f32,
                                       &dot_q4_k_q8_k, &dot_q6_k_q8_k};

}  // namespace sy::engine::kernels

#endif  // __x86_64__
