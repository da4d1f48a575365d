#pragma once
// The Q4_K unpacking the x86 matmul tiles share (matmul_q4_k_avx2.cpp, matmul_q4_k_avx512.cpp):
// AVX2 code, compiled into each file with that file's ISA flags. Internal linkage on purpose:
// an inline function with external linkage compiled under two sets of flags would be merged by
// the linker into one copy, and the AVX-512 build of it could then run on an AVX2-only CPU.

#if defined(__x86_64__)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/matmul_q4_k.h"

namespace sy::engine::kernels {
namespace {  // one private copy per ISA file, see above

// Word pairs (v0, v0, v1, v1, ..., v7, v7) of 8 bytes.
inline __m256i doubled_words(__m128i bytes) {
  const __m128i w = _mm_cvtepu8_epi16(bytes);
  return _mm256_set_m128i(_mm_unpackhi_epi16(w, w), _mm_unpacklo_epi16(w, w));
}

// The dot's unpacking, once per row group: nibbles to bytes, 6-bit scales and mins to words.
void unpack_row(const BlockQ4_K* w, size_t n_blocks, Q4KUnpacked* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (size_t b = 0; b < n_blocks; ++b) {
    const BlockQ4_K& in = w[b];
    Q4KUnpacked& u = out[b];
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in.qs + 32 * c));
      const __m256i lo = _mm256_and_si256(q, low4);                        // sub-block 2c
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);  // sub-block 2c + 1
      _mm256_store_si256(reinterpret_cast<__m256i*>(u.q[2 * c]), _mm256_unpacklo_epi32(lo, hi));
      _mm256_store_si256(reinterpret_cast<__m256i*>(u.q[2 * c + 1]), _mm256_unpackhi_epi32(lo, hi));
    }
    uint32_t x, y, z;
    std::memcpy(&x, in.scales, 4);
    std::memcpy(&y, in.scales + 4, 4);
    std::memcpy(&z, in.scales + 8, 4);
    const uint32_t sc_lo = x & 0x3F3F3F3Fu;
    const uint32_t sc_hi = (z & 0x0F0F0F0Fu) | ((x >> 2) & 0x30303030u);
    const uint32_t m_lo = y & 0x3F3F3F3Fu;
    const uint32_t m_hi = ((z >> 4) & 0x0F0F0F0Fu) | ((y >> 2) & 0x30303030u);
    _mm_storeu_si128(
        reinterpret_cast<__m128i*>(u.sc),
        _mm_cvtepu8_epi16(_mm_setr_epi32(static_cast<int>(sc_lo), static_cast<int>(sc_hi), 0, 0)));
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(u.m),
        doubled_words(_mm_setr_epi32(static_cast<int>(m_lo), static_cast<int>(m_hi), 0, 0)));
    u.d = _cvtsh_ss(in.d);
    u.dmin = _cvtsh_ss(in.dmin);
  }
}

}  // namespace
}  // namespace sy::engine::kernels

#endif  // __x86_64__
