// AVX2 + FMA + F16C overrides. This file alone is compiled with those flags (local_engine/
// CMakeLists.txt) and is only called after cpuid says the processor has them, so it uses no
// inline function shared with other files (an AVX2 copy could otherwise win at link time).

#if defined(__x86_64__)

#include <immintrin.h>

#include "kernels/cpu/cpu_kernels.h"

namespace sy::engine::kernels {
namespace {

inline float hsum(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline float half(uint16_t h) { return _cvtsh_ss(h); }

float dot_f32(const float* a, const float* b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float dot_f16_f32(const uint16_t* a, const float* b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 a0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    __m256 a1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 8)));
    acc0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b + i + 8), acc1);
  }
  float sum = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += half(a[i]) * b[i];
  return sum;
}

// Sum of w[i] * x[i] over 32 signed bytes as 8 int32 lanes -> float. maddubs wants one unsigned
// operand: |w| and x carrying w's sign give the same products.
inline __m256 int8_dot(__m256i w, __m256i x) {
  const __m256i ax = _mm256_sign_epi8(w, w);
  const __m256i sy = _mm256_sign_epi8(x, w);
  const __m256i pairs = _mm256_maddubs_epi16(ax, sy);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

float dot_q8_0_q8_0(const BlockQ8_0* w, const BlockQ8_0* x, size_t n_blocks) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    const __m256 d0 = _mm256_set1_ps(half(w[b].d) * half(x[b].d));
    const __m256 d1 = _mm256_set1_ps(half(w[b + 1].d) * half(x[b + 1].d));
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs));
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b + 1].qs));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b + 1].qs));
    acc0 = _mm256_fmadd_ps(d0, int8_dot(w0, x0), acc0);
    acc1 = _mm256_fmadd_ps(d1, int8_dot(w1, x1), acc1);
  }
  for (; b < n_blocks; ++b) {
    const __m256 d = _mm256_set1_ps(half(w[b].d) * half(x[b].d));
    const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs));
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    acc0 = _mm256_fmadd_ps(d, int8_dot(wq, xq), acc0);
  }
  return hsum(_mm256_add_ps(acc0, acc1));
}

// 16 bytes of nibbles -> 32 int8 in element order (low nibbles, then high), minus 8.
inline __m256i unpack_q4(const uint8_t* qs) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(bytes, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  const __m256i both = _mm256_set_m128i(hi, lo);
  return _mm256_sub_epi8(both, _mm256_set1_epi8(8));
}

float dot_q4_0_q8_0(const BlockQ4_0* w, const BlockQ8_0* x, size_t n_blocks) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    const __m256 d0 = _mm256_set1_ps(half(w[b].d) * half(x[b].d));
    const __m256 d1 = _mm256_set1_ps(half(w[b + 1].d) * half(x[b + 1].d));
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b + 1].qs));
    acc0 = _mm256_fmadd_ps(d0, int8_dot(unpack_q4(w[b].qs), x0), acc0);
    acc1 = _mm256_fmadd_ps(d1, int8_dot(unpack_q4(w[b + 1].qs), x1), acc1);
  }
  for (; b < n_blocks; ++b) {
    const __m256 d = _mm256_set1_ps(half(w[b].d) * half(x[b].d));
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    acc0 = _mm256_fmadd_ps(d, int8_dot(unpack_q4(w[b].qs), xq), acc0);
  }
  return hsum(_mm256_add_ps(acc0, acc1));
}

}  // namespace

extern const CpuKernels kAvx2Kernels{"avx2", &dot_f32, &dot_f16_f32, &dot_q8_0_q8_0,
                                     &dot_q4_0_q8_0};

}  // namespace sy::engine::kernels

#endif  // __x86_64__
