// AVX-512 (F, BW, VL, VNNI) overrides; compiled with those flags alone (see avx2_kernels.cpp for
// why nothing here is shared). Quantized dots use 256-bit VNNI (vpdpbusd): on Zen 4 512-bit
// instructions run as two halves, so 256 bits reach the same peak with less unpacking.

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/attention_heads.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/matmul_q4_k.h"
#include "kernels/cpu/side_prefetch.h"
#include "kernels/cpu/x86/stream_prefetch.h"

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
inline void q4_k_block(const BlockQ4_K& w, const BlockQ8_K& x, int32_t& scaled, int32_t& mins) {
  const __m128i sm = q4_k_scales_mins(w.scales);
  // Mins: m_j * (bsums[2j] + bsums[2j+1]) with m_j repeated for both 16-sums of sub-block j.
  const __m128i m_pairs = _mm_shuffle_epi8(
      sm, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums));
  const __m256i m = _mm256_madd_epi16(bsums, _mm256_cvtepu8_epi16(m_pairs));
  const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));  // 8 words, twice
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256i sum0 = _mm256_setzero_si256(), sum1 = _mm256_setzero_si256();
  for (int c = 0; c < 4; ++c) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * c));
    const __m256i lo = _mm256_and_si256(q, low4);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
    const __m256i x_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 64 * c));
    const __m256i x_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 64 * c + 32));
    // |q . x| per pair <= 2 * 15 * 127: no int16 saturation.
    sum0 = _mm256_dpwssd_epi32(sum0, _mm256_maddubs_epi16(lo, x_lo), broadcast_word(scales, 2 * c));
    sum1 = _mm256_dpwssd_epi32(sum1, _mm256_maddubs_epi16(hi, x_hi),
                               broadcast_word(scales, 2 * c + 1));
  }
  // Both sums' 8 lanes to two integers (exact, so the order is free): S in lane 0, M in lane 1.
  __m256i t = _mm256_hadd_epi32(_mm256_add_epi32(sum0, sum1), m);
  t = _mm256_hadd_epi32(t, t);
  const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
  scaled = _mm_cvtsi128_si32(s);
  mins = _mm_extract_epi32(s, 1);
}

// The Q4_K contract's chain (cpu_kernels.h), scalar fmas on the block's two integers.
float dot_q4_k_q8_k(const BlockQ4_K* w, const BlockQ8_K* x, size_t n_blocks) {
  float acc = 0;
  for (size_t b = 0; b < n_blocks; ++b) {
    int32_t scaled, mins;
    q4_k_block(w[b], x[b], scaled, mins);
    acc = std::fma(static_cast<float>(scaled), half(w[b].d) * x[b].d, acc);
    acc = std::fma(-static_cast<float>(mins), half(w[b].dmin) * x[b].d, acc);
  }
  return acc;
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

// ---- Matrix-vector products, a group of rows at a time --------------------------------------
// Each row keeps the accumulators and the order of its single-row dot above, so every output
// equals that dot bit for bit (cpu_kernels.h); what a group of kRows rows shares is the load of
// each activation block or vector, its scale and its offset sums, and the rows' independent
// accumulator chains keep the vector units busy where one row would wait on its own latency.
constexpr size_t kRows = 4;

// A group reads its rows interleaved, which the hardware prefetchers can follow poorly (they
// also stop at every 4 KiB page end): the group prefetches its contiguous span itself,
// kPrefetchBytes ahead of what it consumes, one line at a time. Measured over anonymous 4 KiB
// pages, 4-row groups without it read at a third of the speed of one row at a time.
constexpr size_t kPrefetchBytes = 8192;

class LinearPrefetch {
 public:
  explicit LinearPrefetch(const void* span)
      : base_(static_cast<const char*>(span) + kPrefetchBytes), next_(base_) {}
  // The span's first `consumed` bytes are being read: prefetch up to kPrefetchBytes past them.
  void upto(size_t consumed) {
    for (const char* want = base_ + consumed; next_ < want; next_ += 64) {
      _mm_prefetch(next_, _MM_HINT_T0);
    }
  }

 private:
  const char* base_;
  const char* next_;
};

// ---- Q8_0 / Q4_0 under the per-block contract (cpu_kernels.h) --------------------------------
// Row-major rows: 8 int32 lanes per row and block (256-bit vpdpbusd), reduced to the block's
// exact integer dot, four rows to the lanes of one XMM, then one FMA per block for all four.
// vpdpbusd multiplies unsigned by signed bytes: w + 128 (w xor 0x80) is unsigned and the 128 * x
// that adds is taken off by starting each lane at -128 * (its four x); Q4_0 nibbles are unsigned
// already and start at -8 * (their four x).
inline __m256i q8_0_lanes(const BlockQ8_0& w, __m256i xq, __m256i start) {
  const __m256i u = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs)),
                                     _mm256_set1_epi8(static_cast<char>(0x80)));
  return _mm256_dpbusd_epi32(start, u, xq);
}

inline __m256i q4_0_lanes(const BlockQ4_0& w, __m256i xq, __m256i start) {
  const __m256i bytes =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.qs)));
  const __m256i q =
      _mm256_and_si256(_mm256_srlv_epi64(bytes, _mm256_setr_epi64x(0, 0, 4, 4)),
                       _mm256_set1_epi8(0x0F));
  return _mm256_dpbusd_epi32(start, q, xq);
}

// Lane r (0-3) = the sum of the 8 lanes of the r-th argument.
inline __m128i sum4(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// R (1 or 4) row-major rows (row r at w + r * n_blocks), one float lane per row.
template <size_t R, bool kQ4, class Block>
inline void chain_rows(const Block* w, size_t n_blocks, const BlockQ8_0* x, float* out) {
  static_assert(R == 1 || R == 4);
  __m128 acc = _mm_setzero_ps();
  LinearPrefetch prefetch(w);
  for (size_t b = 0; b < n_blocks; ++b) {
    prefetch.upto((b + 1) * R * sizeof(Block));
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    const __m256i bias = _mm256_set1_epi8(kQ4 ? 8 : static_cast<char>(0x80));
    const __m256i start = _mm256_sub_epi32(_mm256_setzero_si256(),
                                           _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, xq));
    __m256i lanes[4] = {};
    uint16_t d[8] = {};
    for (size_t r = 0; r < R; ++r) {
      const Block& wb = w[r * n_blocks + b];
      if constexpr (kQ4) {
        lanes[r] = q4_0_lanes(wb, xq, start);
      } else {
        lanes[r] = q8_0_lanes(wb, xq, start);
      }
      d[r] = wb.d;
    }
    const __m128 scale =
        _mm_mul_ps(_mm_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d))),
                   _mm_set1_ps(half(x[b].d)));
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sum4(lanes[0], lanes[1], lanes[2], lanes[3])), scale, acc);
  }
  alignas(16) float lane[4];
  _mm_store_ps(lane, acc);
  for (size_t r = 0; r < R; ++r) out[r] = lane[r];
}

float dot_q8_0_q8_0(const BlockQ8_0* w, const BlockQ8_0* x, size_t n_blocks) {
  float out;
  chain_rows<1, false>(w, n_blocks, x, &out);
  return out;
}

float dot_q4_0_q8_0(const BlockQ4_0* w, const BlockQ8_0* x, size_t n_blocks) {
  float out;
  chain_rows<1, true>(w, n_blocks, x, &out);
  return out;
}

void matvec_q8_0_q8_0(const BlockQ8_0* w, size_t n_rows, const BlockQ8_0* x, size_t n_blocks,
                      float* out) {
  size_t r = 0;
  for (; r + 4 <= n_rows; r += 4) chain_rows<4, false>(w + r * n_blocks, n_blocks, x, out + r);
  for (; r < n_rows; ++r) chain_rows<1, false>(w + r * n_blocks, n_blocks, x, out + r);
}

void matvec_q4_0_q8_0(const BlockQ4_0* w, size_t n_rows, const BlockQ8_0* x, size_t n_blocks,
                      float* out) {
  size_t r = 0;
  for (; r + 4 <= n_rows; r += 4) chain_rows<4, true>(w + r * n_blocks, n_blocks, x, out + r);
  for (; r < n_rows; ++r) chain_rows<1, true>(w + r * n_blocks, n_blocks, x, out + r);
}

// R rows of F16 weights, each as dot_f16_f32: two accumulators over steps of 32, a masked tail
// of 16 at a time into the first, one reduction per row.
template <size_t R>
inline void f16_rows(const uint16_t* a, const float* b, size_t n, float* out) {
  __m512 acc0[R], acc1[R];
  for (size_t r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  LinearPrefetch prefetch(a);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    prefetch.upto((i + 32) * R * sizeof(uint16_t));
    const __m512 b0 = _mm512_loadu_ps(b + i), b1 = _mm512_loadu_ps(b + i + 16);
    for (size_t r = 0; r < R; ++r) {
      const uint16_t* row = a + r * n + i;
      const __m512 a0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row)));
      const __m512 a1 =
          _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 16)));
      acc0[r] = _mm512_fmadd_ps(a0, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(a1, b1, acc1[r]);
    }
  }
  for (; i < n; i += 16) {
    const size_t left = n - i < 16 ? n - i : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << left) - 1);
    const __m512 b0 = _mm512_maskz_loadu_ps(m, b + i);
    for (size_t r = 0; r < R; ++r) {
      const __m512 a0 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + r * n + i));
      acc0[r] = _mm512_fmadd_ps(a0, b0, acc0[r]);
    }
  }
  for (size_t r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r], acc1[r]));
}

void matvec_f16_f32(const uint16_t* w, size_t n_rows, const float* x, size_t n, float* out) {
  size_t r = 0;
  for (; r + kRows <= n_rows; r += kRows) f16_rows<kRows>(w + r * n, x, n, out + r);
  for (; r < n_rows; ++r) f16_rows<1>(w + r * n, x, n, out + r);
}

// R rows of BF16 weights, each as dot_bf16_f32: four accumulators over steps of 64, a masked
// tail into the first.
template <size_t R>
inline void bf16_rows(const uint16_t* a, const float* b, size_t n, float* out) {
  __m512 acc[4][R];
  for (auto& k : acc) {
    for (auto& v : k) v = _mm512_setzero_ps();
  }
  LinearPrefetch prefetch(a);
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    prefetch.upto((i + 64) * R * sizeof(uint16_t));
    for (int k = 0; k < 4; ++k) {
      const __m512 bk = _mm512_loadu_ps(b + i + 16 * k);
      for (size_t r = 0; r < R; ++r) {
        const auto* p = reinterpret_cast<const __m256i*>(a + r * n + i + 16 * k);
        acc[k][r] = _mm512_fmadd_ps(widen_bf16(_mm256_loadu_si256(p)), bk, acc[k][r]);
      }
    }
  }
  for (; i < n; i += 16) {
    const size_t left = n - i < 16 ? n - i : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << left) - 1);
    const __m512 b0 = _mm512_maskz_loadu_ps(m, b + i);
    for (size_t r = 0; r < R; ++r) {
      acc[0][r] =
          _mm512_fmadd_ps(widen_bf16(_mm256_maskz_loadu_epi16(m, a + r * n + i)), b0, acc[0][r]);
    }
  }
  for (size_t r = 0; r < R; ++r) {
    out[r] = _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(acc[0][r], acc[1][r]), _mm512_add_ps(acc[2][r], acc[3][r])));
  }
}

void matvec_bf16_f32(const uint16_t* w, size_t n_rows, const float* x, size_t n, float* out) {
  size_t r = 0;
  for (; r + kRows <= n_rows; r += kRows) bf16_rows<kRows>(w + r * n, x, n, out + r);
  for (; r < n_rows; ++r) bf16_rows<1>(w + r * n, x, n, out + r);
}

// std::round of each lane (half away from zero), exactly: truncate, then step away from zero
// where the dropped fraction is at least one half (the difference is exact below 2^23). Sign
// bits move through integer ops: the float ones would need AVX512DQ.
inline __m512 round_half_away(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __mmask16 up =
      _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN));
  const __m512 step =
      _mm512_castsi512_ps(_mm512_or_si512(sign, _mm512_castps_si512(_mm512_set1_ps(1.0f))));
  return _mm512_mask_add_ps(t, up, t, step);
}

// As quantize_row_q8_0: the same amax (max is exact in any order), d, 1/d and products.
void quantize_q8_0(const float* x, BlockQ8_0* y, size_t n) {
  for (size_t b = 0; b < n / 32; ++b) {
    const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    const __m512 s = _mm512_set1_ps(id);
    const __m512i q0 = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(v0, s)));
    const __m512i q1 = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(v1, s)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + 16), _mm512_cvtsepi32_epi8(q1));
  }
}

// G queries x C chunks of 16 elements: G * C accumulators stay in registers over the whole range
// of t, and each value row is read once (C * 32 contiguous bytes) for all G queries.
template <size_t G, size_t C>
inline void values_block(const uint16_t* values, size_t row_stride, size_t n_rows,
                         const float* probs, size_t probs_stride, size_t head_dim, float* out,
                         const __mmask16 (&m)[4]) {
  __m512 acc[G][C];
#pragma GCC unroll 4
  for (size_t g = 0; g < G; ++g) {
#pragma GCC unroll 4
    for (size_t c = 0; c < C; ++c)
      acc[g][c] = _mm512_maskz_loadu_ps(m[c], out + g * head_dim + 16 * c);
  }
  // Unrolled early (the pragmas) so that GCC keeps acc in registers: left to its own unrolling
  // it also stored all G * C accumulators to the stack on every row.
  for (size_t t = 0; t < n_rows; ++t) {
    const uint16_t* row = values + t * row_stride;
#pragma GCC unroll 4
    for (size_t c = 0; c < C; ++c) {
      const __m512 v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m[c], row + 16 * c));
#pragma GCC unroll 4
      for (size_t g = 0; g < G; ++g) {
        acc[g][c] = _mm512_fmadd_ps(_mm512_set1_ps(probs[g * probs_stride + t]), v, acc[g][c]);
      }
    }
  }
#pragma GCC unroll 4
  for (size_t g = 0; g < G; ++g) {
#pragma GCC unroll 4
    for (size_t c = 0; c < C; ++c)
      _mm512_mask_storeu_ps(out + g * head_dim + 16 * c, m[c], acc[g][c]);
  }
}

template <size_t G>
inline void values_queries(const uint16_t* values, size_t row_stride, size_t n_rows,
                           const float* probs, size_t probs_stride, size_t head_dim, float* out) {
  for (size_t i = 0; i < head_dim; i += 64) {
    const size_t left = head_dim - i;
    __mmask16 m[4];
    for (size_t c = 0; c < 4; ++c) {
      const size_t n = left > 16 * c ? std::min<size_t>(left - 16 * c, 16) : 0;
      m[c] = static_cast<__mmask16>((1u << n) - 1);
    }
    const size_t chunks = std::min<size_t>((left + 15) / 16, 4);
    const uint16_t* v = values + i;
    float* o = out + i;
    switch (chunks) {
      case 4:
        values_block<G, 4>(v, row_stride, n_rows, probs, probs_stride, head_dim, o, m);
        break;
      case 3:
        values_block<G, 3>(v, row_stride, n_rows, probs, probs_stride, head_dim, o, m);
        break;
      case 2:
        values_block<G, 2>(v, row_stride, n_rows, probs, probs_stride, head_dim, o, m);
        break;
      default:
        values_block<G, 1>(v, row_stride, n_rows, probs, probs_stride, head_dim, o, m);
    }
  }
}

// Scores for head widths that are whole multiples of 32 (C = head_dim / 32 pairs of 16-wide
// chunks): the key row is widened once into 2C registers, then each query runs dot_f16_f32's
// own steps on it (chunk 2i into acc0, 2i + 1 into acc1, in order), so every score equals that
// dot bit for bit once acc0 + acc1 is reduced as _mm512_reduce_add_ps reduces it.
template <size_t C>
inline void widen_key(const uint16_t* row, __m512 (&k)[2 * C]) {
  for (size_t c = 0; c < 2 * C; ++c) {
    k[c] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 16 * c)));
  }
}

template <size_t C>
inline __m512 key_dot(const __m512 (&k)[2 * C], const float* qg) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  for (size_t c = 0; c < C; ++c) {
    acc0 = _mm512_fmadd_ps(k[2 * c], _mm512_loadu_ps(qg + 32 * c), acc0);
    acc1 = _mm512_fmadd_ps(k[2 * c + 1], _mm512_loadu_ps(qg + 32 * c + 16), acc1);
  }
  return _mm512_add_ps(acc0, acc1);
}

// _mm512_reduce_add_ps(x) (GCC's avx512fintrin.h) is the tree
//   T3[i] = x[8 + i] + x[i] (i < 8);  T6[i] = T3[4 + i] + T3[i] (i < 4);
//   T8[i] = T6[i] + T6[i + 2] (i < 2);  result = T8[0] + T8[1]
// and float addition is commutative, so 16 rows' vectors reduce in four levels of pairwise
// shuffles and adds to the very same sums, 15 adds for 16 scores instead of 4 per score:
// level 1 pairs rows (lanes of 128 bits: [a.T3 lo, a.T3 hi, b.T3 lo, b.T3 hi]), level 2 gives a
// row's T6 per lane, level 3 two rows' T8 per lane, level 4 four rows' results per lane.
inline __m512 reduce_level1(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
}
inline __m512 reduce_level2(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD));
}
inline __m512 reduce_level3(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x44), _mm512_shuffle_ps(a, b, 0xEE));
}
inline __m512 reduce_level4(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x88), _mm512_shuffle_ps(a, b, 0xDD));
}

// Up to 4 queries x 16 rows: each query's 16 scores leave in one vector. The tree runs as the
// rows come (pairs, quads, octets), so at most a few partial vectors per query are live.
template <size_t C, size_t G>
inline void scores_tile16(const uint16_t* keys, size_t row_stride, const float* q, float* scores,
                          size_t scores_stride) {
  constexpr size_t head_dim = 32 * C;
  __m512 oct[2][G];
  for (size_t o = 0; o < 2; ++o) {
    __m512 quad[2][G];
    for (size_t qd = 0; qd < 2; ++qd) {
      __m512 pair[2][G];
      for (size_t p = 0; p < 2; ++p) {
        const size_t r = 8 * o + 4 * qd + 2 * p;
        __m512 k[2 * C], x[G];
        widen_key<C>(keys + r * row_stride, k);
        for (size_t g = 0; g < G; ++g) x[g] = key_dot<C>(k, q + g * head_dim);
        widen_key<C>(keys + (r + 1) * row_stride, k);
        for (size_t g = 0; g < G; ++g) {
          pair[p][g] = reduce_level1(x[g], key_dot<C>(k, q + g * head_dim));
        }
      }
      for (size_t g = 0; g < G; ++g) quad[qd][g] = reduce_level2(pair[0][g], pair[1][g]);
    }
    for (size_t g = 0; g < G; ++g) oct[o][g] = reduce_level3(quad[0][g], quad[1][g]);
  }
  // Lane 4j + e of the last level holds row 4e + j.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  for (size_t g = 0; g < G; ++g) {
    const __m512 f = reduce_level4(oct[0][g], oct[1][g]);
    _mm512_storeu_ps(scores + g * scores_stride, _mm512_permutexvar_ps(order, f));
  }
}

template <size_t C>
void scores_rows(const uint16_t* keys, size_t row_stride, size_t n_rows, const float* q,
                 size_t n_queries, float* scores, size_t scores_stride) {
  constexpr size_t head_dim = 32 * C;
  size_t t = 0;
  for (; t + 16 <= n_rows; t += 16) {
    for (size_t g = 0; g < n_queries; g += 4) {
      const uint16_t* k = keys + t * row_stride;
      const float* qg = q + g * head_dim;
      float* s = scores + g * scores_stride + t;
      switch (std::min<size_t>(n_queries - g, 4)) {
        case 4:
          scores_tile16<C, 4>(k, row_stride, qg, s, scores_stride);
          break;
        case 3:
          scores_tile16<C, 3>(k, row_stride, qg, s, scores_stride);
          break;
        case 2:
          scores_tile16<C, 2>(k, row_stride, qg, s, scores_stride);
          break;
        default:
          scores_tile16<C, 1>(k, row_stride, qg, s, scores_stride);
      }
    }
  }
  for (; t < n_rows; ++t) {
    __m512 k[2 * C];
    widen_key<C>(keys + t * row_stride, k);
    for (size_t g = 0; g < n_queries; ++g) {
      scores[g * scores_stride + t] = _mm512_reduce_add_ps(key_dot<C>(k, q + g * head_dim));
    }
  }
}

void attention_scores_f16(const uint16_t* keys, size_t row_stride, size_t n_rows, const float* q,
                          size_t n_queries, size_t head_dim, float* scores, size_t scores_stride) {
  switch (head_dim) {
    case 64:
      return scores_rows<2>(keys, row_stride, n_rows, q, n_queries, scores, scores_stride);
    case 128:
      return scores_rows<4>(keys, row_stride, n_rows, q, n_queries, scores, scores_stride);
    case 256:
      return scores_rows<8>(keys, row_stride, n_rows, q, n_queries, scores, scores_stride);
    default:
      for (size_t t = 0; t < n_rows; ++t) {
        for (size_t g = 0; g < n_queries; ++g) {
          scores[g * scores_stride + t] =
              dot_f16_f32(keys + t * row_stride, q + g * head_dim, head_dim);
        }
      }
  }
}

// Queries in groups of up to 4, 64 elements of the head at a time.
void attention_values_f16(const uint16_t* values, size_t row_stride, size_t n_rows,
                          const float* probs, size_t probs_stride, size_t n_queries,
                          size_t head_dim, float* out) {
  for (size_t g = 0; g < n_queries; g += 4) {
    const float* p = probs + g * probs_stride;
    float* o = out + g * head_dim;
    switch (std::min<size_t>(n_queries - g, 4)) {
      case 4:
        values_queries<4>(values, row_stride, n_rows, p, probs_stride, head_dim, o);
        break;
      case 3:
        values_queries<3>(values, row_stride, n_rows, p, probs_stride, head_dim, o);
        break;
      case 2:
        values_queries<2>(values, row_stride, n_rows, p, probs_stride, head_dim, o);
        break;
      default:
        values_queries<1>(values, row_stride, n_rows, p, probs_stride, head_dim, o);
    }
  }
}

// Slices of heads side by side without the per-head, per-step dispatch of the composed versions
// (attention_heads.h): the same single-head steps (scores_tile16, values_block), so the same bits,
// with the head width and the group resolved once per call. 16 rows at a time, head by head
// through scores_tile16 (the single-head kernel's 16-row tree): every head of the slice reads the
// same 16 rows before the next 16, so one tile's rows (a few KB for 3 or 5 heads of 64, 64 KB for
// 1.7B's 32) stay in L1/L2 across the heads and each row's pages are walked in address order.
// Wide rows used to go row by row, every head on a row before the next: that order
// reduced each (row, head) score alone (_mm512_reduce_add_ps, 4 adds a score instead of 15 for
// 16) and read values 2 rows a step; in engine_attention_bench (1 thread, 576 positions) the
// tiles took 32 heads of 64 from 6.5 to 4.9 ms a token, 64 heads 4.7 -> 3.0, 128 heads 12.9 -> 6.3.
template <size_t C, size_t G>
void scores_heads_tiles(const uint16_t* keys, size_t row_stride, size_t n_tiles, size_t n_heads,
                        const float* q, float* scores, size_t scores_stride) {
  constexpr size_t head_dim = 32 * C;
  for (size_t i = 0; i < n_tiles; ++i) {
    for (size_t h = 0; h < n_heads; ++h) {
      scores_tile16<C, G>(keys + 16 * i * row_stride + h * head_dim, row_stride,
                          q + h * G * head_dim, scores + h * G * scores_stride + 16 * i,
                          scores_stride);
    }
  }
}

template <size_t C>
void scores_heads_rows(const uint16_t* keys, size_t row_stride, size_t n_rows, size_t n_heads,
                       const float* q, size_t group, float* scores, size_t scores_stride) {
  constexpr size_t head_dim = 32 * C;
  size_t t = 0;
  if (group <= 4) {
    const size_t tiles = n_rows / 16;
    switch (group) {
      case 4:
        scores_heads_tiles<C, 4>(keys, row_stride, tiles, n_heads, q, scores, scores_stride);
        break;
      case 3:
        scores_heads_tiles<C, 3>(keys, row_stride, tiles, n_heads, q, scores, scores_stride);
        break;
      case 2:
        scores_heads_tiles<C, 2>(keys, row_stride, tiles, n_heads, q, scores, scores_stride);
        break;
      default:
        scores_heads_tiles<C, 1>(keys, row_stride, tiles, n_heads, q, scores, scores_stride);
    }
    t = 16 * tiles;
  }
  for (; t < n_rows; ++t) {
    for (size_t h = 0; h < n_heads; ++h) {
      __m512 k[2 * C];
      widen_key<C>(keys + t * row_stride + h * head_dim, k);
      for (size_t g = 0; g < group; ++g) {
        scores[(h * group + g) * scores_stride + t] =
            _mm512_reduce_add_ps(key_dot<C>(k, q + (h * group + g) * head_dim));
      }
    }
  }
}

void attention_scores_heads_f16(const uint16_t* keys, size_t row_stride, size_t n_rows,
                                size_t n_heads, const float* q, size_t group, size_t head_dim,
                                float* scores, size_t scores_stride) {
  switch (head_dim) {
    case 64:
      return scores_heads_rows<2>(keys, row_stride, n_rows, n_heads, q, group, scores,
                                  scores_stride);
    case 128:
      return scores_heads_rows<4>(keys, row_stride, n_rows, n_heads, q, group, scores,
                                  scores_stride);
    case 256:
      return scores_heads_rows<8>(keys, row_stride, n_rows, n_heads, q, group, scores,
                                  scores_stride);
    default:
      attention_scores_heads<&attention_scores_f16>(keys, row_stride, n_rows, n_heads, q, group,
                                                    head_dim, scores, scores_stride);
  }
}

// Head widths that are whole multiples of 64 and groups of up to 4 (one values_queries<G> per
// head and step, as attention_values_f16 runs them).
template <size_t G>
void values_heads_64(const uint16_t* values, size_t row_stride, size_t n_rows, size_t n_heads,
                     const float* probs, size_t probs_stride, size_t head_dim, float* out,
                     size_t out_stride) {
  const __mmask16 m[4] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};
  // 16 rows a step, as for the scores: the G x 4 sums of a head are loaded and stored once per
  // 16 rows, and the step's rows stay cached across the heads. Any split gives the same bits
  // (each sum's chain runs in row order, carried through memory between steps).
  constexpr size_t step = 16;
  for (size_t t = 0; t < n_rows; t += step) {
    const size_t rows = std::min(step, n_rows - t);
    for (size_t h = 0; h < n_heads; ++h) {
      const uint16_t* v = values + t * row_stride + h * head_dim;
      const float* p = probs + h * G * probs_stride + t;
      float* o = out + h * out_stride;
      for (size_t i = 0; i < head_dim; i += 64) {
        values_block<G, 4>(v + i, row_stride, rows, p, probs_stride, head_dim, o + i, m);
      }
    }
  }
}

void attention_values_heads_f16(const uint16_t* values, size_t row_stride, size_t n_rows,
                                size_t n_heads, const float* probs, size_t probs_stride,
                                size_t group, size_t head_dim, float* out, size_t out_stride) {
  if (head_dim % 64 == 0) {
    switch (group) {
      case 1:
        return values_heads_64<1>(values, row_stride, n_rows, n_heads, probs, probs_stride,
                                  head_dim, out, out_stride);
      case 2:
        return values_heads_64<2>(values, row_stride, n_rows, n_heads, probs, probs_stride,
                                  head_dim, out, out_stride);
      case 3:
        return values_heads_64<3>(values, row_stride, n_rows, n_heads, probs, probs_stride,
                                  head_dim, out, out_stride);
      case 4:
        return values_heads_64<4>(values, row_stride, n_rows, n_heads, probs, probs_stride,
                                  head_dim, out, out_stride);
      default:
        break;
    }
  }
  attention_values_heads<&attention_values_f16>(values, row_stride, n_rows, n_heads, probs,
                                                probs_stride, group, head_dim, out, out_stride);
}

// ---- Row groups: 16 rows x T tokens, one ZMM lane per row ----------------------------------
// Per block, the group's quants are loaded once (8 ZMM of 16 rows x 4 quants) for the T tokens,
// and each token's block is 8 broadcasts: 8 vpdpbusd + 1 convert + 1 multiply + 1 FMA per
// block for 16 outputs, each lane stepping its row's chain exactly as the dot does. The int32
// sums run in two chains (k even, k odd) added at the end: integer, so exact in any order.
struct GroupQ8_0 {
  using Group = RowGroupQ8_0;
  static void quants(const RowGroupQ8_0& g, __m512i (&wk)[8]) {
    for (size_t k = 0; k < 8; ++k) wk[k] = _mm512_loadu_si512(g.qs[k]);  // w + 128 already
  }
  static int32_t start(const ActivationQ8& a) { return -128 * a.sum; }
};

// Q4_0: byte 4k + j holds elements 4k + j (low nibble) and 16 + 4k + j (high): the low nibbles
// of line k pair with the activation's quants 4k.., the high ones with 16 + 4k...
struct GroupQ4_0 {
  using Group = RowGroupQ4_0;
  static void quants(const RowGroupQ4_0& g, __m512i (&wk)[8]) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    for (size_t k = 0; k < 4; ++k) {
      const __m512i v = _mm512_loadu_si512(g.qs[k]);
      wk[k] = _mm512_and_si512(v, low4);
      wk[4 + k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    }
  }
  static int32_t start(const ActivationQ8& a) { return -8 * a.sum; }
};

// Tokens per register tile: 8 accumulators beside the 8 quant registers.
constexpr size_t kTokenTile = 8;

inline __m512i bcast32(const int8_t* q) {
  int32_t v;
  std::memcpy(&v, q, 4);
  return _mm512_set1_epi32(v);
}

// One group (n_blocks blocks at w) x T tokens (token t's blocks at x + t * n_blocks).
// `ahead` (or nullptr) is the group to prefetch, block by block beside this one's: see
// matmul_groups for when.
// `stream` (decode: one token, each weight read once) prefetches the weights ahead beside each
// block (stream_prefetch.h). `side` (or nullptr) steps once per block (side_prefetch.h).
template <class Kind, size_t T, bool stream = false>
void group_tile(const typename Kind::Group* w, size_t n_blocks, const ActivationQ8* x, float* out,
                size_t out_stride, const typename Kind::Group* ahead, SidePrefetch* side) {
  __m512 acc[T];
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (size_t b = 0; b < n_blocks; ++b) {
    if constexpr (stream) prefetch_stream_ahead(w + b, sizeof(w[b]));
    if (side != nullptr) side->step();
    if (ahead != nullptr) {
      const char* line = reinterpret_cast<const char*>(ahead + b);
      for (size_t at = 0; at < sizeof(ahead[b]); at += 64) _mm_prefetch(line + at, _MM_HINT_T1);
    }
    __m512i wk[8];
    Kind::quants(w[b], wk);
    const __m512 wd =
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].d)));
#pragma GCC unroll 8
    for (size_t t = 0; t < T; ++t) {
      const ActivationQ8& a = x[t * n_blocks + b];
      __m512i s0 = _mm512_set1_epi32(Kind::start(a)), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (size_t k = 0; k < 8; k += 2) {
        s0 = _mm512_dpbusd_epi32(s0, wk[k], bcast32(a.qs + 4 * k));
        s1 = _mm512_dpbusd_epi32(s1, wk[k + 1], bcast32(a.qs + 4 * k + 4));
      }
      const __m512 isum = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
      acc[t] = _mm512_fmadd_ps(isum, _mm512_mul_ps(wd, _mm512_set1_ps(a.d)), acc[t]);
    }
  }
  for (size_t t = 0; t < T; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

// Group prefetch: with several tokens a group's weights are reused from registers and L1 for
// every token, so the stream from memory runs at a fraction of the bandwidth and the hardware
// prefetchers fall behind: 16 tokens over 30 distinct layers in 2 MiB pages (~140 MB,
// bench_matmul --layers 30, 1 thread) ran at 0.43 of the VNNI peak against 0.70 for one
// cache-resident layer. So from kPrefetchTokens tokens each group's first tile prefetches the
// next group into L2 (10-26 KB ahead at SmolLM2 widths), a line per 64 bytes beside each block:
// 0.67-0.68 at 16 and 64 tokens, 0.55-0.58 against 0.36-0.45 at 6. Into L1 (T0) instead it
// evicts the group and activations in use: 0.47-0.50. At 1-2 tokens the stream runs at the
// bandwidth the hardware prefetchers sustain and software prefetch only slows it (0.08 against
// 0.11-0.12 of the peak at 1 token); at 4 it is even.
constexpr size_t kPrefetchTokens = 6;

// Like the group prefetch, `side` steps in each group's first tile only.
template <class Kind>
void matmul_groups(const typename Kind::Group* w, size_t n_groups, size_t n_blocks,
                   const ActivationQ8* x, size_t n_tokens, float* out, size_t out_stride,
                   SidePrefetch* side_prefetch) {
  using Group = typename Kind::Group;
  const bool prefetch = n_tokens >= kPrefetchTokens;
  for (size_t g = 0; g < n_groups; ++g) {
    const Group* wg = w + g * n_blocks;
    const Group* ahead = prefetch ? wg + n_blocks : nullptr;  // past the range: harmless
    SidePrefetch* side = side_prefetch;
    float* o = out + g * kGroupRows;
    size_t t = 0;
    for (; t + kTokenTile <= n_tokens; t += kTokenTile) {
      group_tile<Kind, kTokenTile>(wg, n_blocks, x + t * n_blocks, o + t * out_stride, out_stride,
                                   ahead, side);
      ahead = nullptr;
      side = nullptr;
    }
    const ActivationQ8* xt = x + t * n_blocks;
    float* ot = o + t * out_stride;
    switch (n_tokens - t) {
      case 7:
        group_tile<Kind, 7>(wg, n_blocks, xt, ot, out_stride, ahead, side);
        break;
      case 6:
        group_tile<Kind, 6>(wg, n_blocks, xt, ot, out_stride, ahead, side);
        break;
      case 5:
        group_tile<Kind, 5>(wg, n_blocks, xt, ot, out_stride, ahead, side);
        break;
      case 4:
        group_tile<Kind, 4>(wg, n_blocks, xt, ot, out_stride, ahead, side);
        break;
      case 3:
        group_tile<Kind, 3>(wg, n_blocks, xt, ot, out_stride, ahead, side);
        break;
      case 2:
        group_tile<Kind, 2>(wg, n_blocks, xt, ot, out_stride, ahead, side);
        break;
      case 1:
        if (n_tokens == 1) {
          group_tile<Kind, 1, true>(wg, n_blocks, xt, ot, out_stride, nullptr, side);
        } else {
          group_tile<Kind, 1>(wg, n_blocks, xt, ot, out_stride, ahead, side);
        }
        break;
      default:
        break;
    }
  }
}

void matmul_q8_0_groups(const RowGroupQ8_0* w, size_t n_groups, size_t n_blocks,
                        const ActivationQ8* x, size_t n_tokens, float* out, size_t out_stride,
                        SidePrefetch* side) {
  matmul_groups<GroupQ8_0>(w, n_groups, n_blocks, x, n_tokens, out, out_stride, side);
}

void matmul_q4_0_groups(const RowGroupQ4_0* w, size_t n_groups, size_t n_blocks,
                        const ActivationQ8* x, size_t n_tokens, float* out, size_t out_stride,
                        SidePrefetch* side) {
  matmul_groups<GroupQ4_0>(w, n_groups, n_blocks, x, n_tokens, out, out_stride, side);
}

// exp(x) = 2^n * e^r, n = round(x * log2 e), r = x - n ln 2 (in two parts, Cody-Waite), e^r
// by Cephes' degree-6 expf polynomial; scalef applies 2^n, underflowing to denormals and 0 and
// overflowing to infinity as exp does. The clamps keep n finite; NaN stays NaN (max and min
// return their second operand when one is NaN).
inline __m512 exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(128.0f), _mm512_max_ps(_mm512_set1_ps(-150.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

uint64_t read_lines(const std::byte* p, size_t bytes) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 256 <= bytes; i += 256) {
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(p + i + 192));
  }
  return _mm512_reduce_add_epi64(
      _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
}

// Lanes of running maxima: _mm512_max_ps(x, acc) keeps acc where x is NaN.
float scale_max(float* x, size_t n, float scale) {
  const __m512 s = _mm512_set1_ps(scale);
  __m512 acc = _mm512_set1_ps(-INFINITY);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), s);
    _mm512_storeu_ps(x + i, v);
    acc = _mm512_max_ps(v, acc);
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), s);
    _mm512_mask_storeu_ps(x + i, k, v);
    acc = _mm512_mask_max_ps(acc, k, v, acc);
  }
  float lanes[16];
  _mm512_storeu_ps(lanes, acc);
  float max = -INFINITY;
  for (float l : lanes) max = std::max(max, l);
  return max;
}

float softmax_exp(float* x, size_t n, float max) {
  const __m512 m = _mm512_set1_ps(max);
  __m512 acc = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), m));
    _mm512_storeu_ps(x + i, e);
    acc = _mm512_add_ps(acc, e);
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m));
    _mm512_mask_storeu_ps(x + i, k, e);
    acc = _mm512_mask_add_ps(acc, k, acc, e);
  }
  return _mm512_reduce_add_ps(acc);
}

// 16 lanes of SiLU(g) * u = g * sigmoid(g) * u, exp by exp512: the baseline build's 4-lane
// version (exp4 and a divide per 4 elements) was ~6% of a 16-stream decode step. The sigmoid
// from e = exp(-|g|), which never overflows (1 / (1 + e), or e / (1 + e) for g < 0), so gates
// below -88 keep their tiny values instead of dividing by infinity. Each lane alone, the tail
// masked, so an element's value depends on neither n nor the range's start.
inline __m512 silu_mul16(__m512 g, __m512 u) {
  const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(g)));
  const __m512 d = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
  const __mmask16 negative = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 sigmoid = _mm512_mask_mul_ps(d, negative, d, e);
  return _mm512_mul_ps(_mm512_mul_ps(g, sigmoid), u);
}

void silu_mul(float* gate, const float* up, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(gate + i, silu_mul16(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 r =
        silu_mul16(_mm512_maskz_loadu_ps(k, gate + i), _mm512_maskz_loadu_ps(k, up + i));
    _mm512_mask_storeu_ps(gate + i, k, r);
  }
}

// vcvtps2ph rounds to nearest even and overflows to infinity as fp32_to_fp16 does, subnormal
// halves included; only NaNs differ (it keeps payload bits), so those lanes get the scalar
// function's sign | 0x7E00.
__m256i fp16_lanes(__m512 v) {
  const __m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  const __m256i sign =
      _mm256_and_si256(_mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(v), 16)),
                       _mm256_set1_epi16(static_cast<short>(0x8000)));
  return _mm256_mask_blend_epi16(nan, h, _mm256_or_si256(sign, _mm256_set1_epi16(0x7E00)));
}

void fp32_to_fp16_row(const float* x, uint16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), fp16_lanes(_mm512_loadu_ps(x + i)));
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(out + i, k, fp16_lanes(_mm512_maskz_loadu_ps(k, x + i)));
  }
}

// 64 elements a block in 4 x 16 float lanes, each block's total added in double. Against the
// baseline build's 4-lane exp4 it is ~3x fewer instructions per logit: with logprobs asked
// (the HTTP bench asks), one pass over the 49k-entry vocabulary per stream and token.
double exp_sum(const float* x, size_t n, float max) {
  const __m512 m = _mm512_set1_ps(max);
  double sum = 0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 acc[4];
    for (size_t k = 0; k < 4; ++k)
      acc[k] = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16 * k), m));
    sum += _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
  }
  for (; i < n; i += 16) {
    const __mmask16 k = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m));
    sum += _mm512_mask_reduce_add_ps(k, e);
  }
  return sum;
}

}  // namespace

extern const CpuKernels kAvx512Kernels{"avx512",
                                       &dot_f32,
                                       &dot_f16_f32,
                                       &dot_q8_0_q8_0,
                                       &dot_q4_0_q8_0,
                                       &dot_bf16_f32,
                                       &dot_q4_k_q8_k,
                                       &dot_q6_k_q8_k,
                                       &matvec_f16_f32,
                                       &matvec_bf16_f32,
                                       &matvec_q8_0_q8_0,
                                       &matvec_q4_0_q8_0,
                                       &quantize_q8_0,
                                       &attention_values_f16,
                                       &matmul_q8_0_groups,
                                       &matmul_q4_0_groups,
                                       &attention_scores_f16,
                                       &matmul_q4_k_q8_k_avx512,
                                       &scale_max,
                                       &softmax_exp,
                                       &silu_mul,
                                       &fp32_to_fp16_row,
                                       &exp_sum,
                                       &matmul_q4_k_groups_avx512,
                                       &quantize_q8_k_avx512,
                                       &attention_scores_heads_f16,
                                       &attention_values_heads_f16,
                                       &read_lines};

}  // namespace sy::engine::kernels

#endif  // __x86_64__
