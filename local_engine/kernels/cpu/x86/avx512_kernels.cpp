// AVX-512 (F, BW, VL, VNNI) overrides; compiled with those flags alone (see avx2_kernels.cpp for
// why nothing here is shared). Quantized dots use 256-bit VNNI (vpdpbusd): on Zen 4 512-bit
// instructions run as two halves, so 256 bits reach the same peak with less unpacking.

#if defined(__x86_64__)

#include <immintrin.h>

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

}  // namespace

extern const CpuKernels kAvx512Kernels{"avx512", &dot_f32, &dot_f16_f32, &dot_q8_0_q8_0,
                                       &dot_q4_0_q8_0};

}  // namespace sy::engine::kernels

#endif  // __x86_64__
