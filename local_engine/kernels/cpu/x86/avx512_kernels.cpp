// AVX-512 (F, BW, VL, VNNI) overrides; compiled with those flags alone (see avx2_kernels.cpp for
// why nothing here is shared). Quantized dots use 256-bit VNNI (vpdpbusd): on Zen 4 512-bit
// instructions run as two halves, so 256 bits reach the same peak with less unpacking.

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/matmul_q4_k.h"

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

// One Q8_0 block of x against block `b` of R rows (row r at w + r * stride). dpbusd multiplies
// unsigned by signed bytes: w + 128 (w xor 0x80) is unsigned, and the 128 * x that adds is taken
// off by starting each int32 lane at -128 * (its four x). The lanes are then exactly those of
// int8_dot, and the scale the same float product, so acc[r] steps as dot_q8_0_q8_0's does.
template <size_t R>
inline void q8_0_step(const BlockQ8_0* w, size_t stride, const BlockQ8_0& xb, __m256 (&acc)[R]) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs));
  const __m256i start = _mm256_sub_epi32(_mm256_setzero_si256(),
                                         _mm256_dpbusd_epi32(_mm256_setzero_si256(), flip, xq));
  const __m256 xd = _mm256_set1_ps(half(xb.d));
  for (size_t r = 0; r < R; ++r) {
    const BlockQ8_0& wb = w[r * stride];
    const __m256i u =
        _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb.qs)), flip);
    const __m256 dot = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(start, u, xq));
    const __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(wb.d))), xd);
    acc[r] = _mm256_fmadd_ps(d, dot, acc[r]);
  }
}

// Q4_0: the nibbles q are unsigned already; each lane starts at -8 * (its four x).
template <size_t R>
inline void q4_0_step(const BlockQ4_0* w, size_t stride, const BlockQ8_0& xb, __m256 (&acc)[R]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i high_half = _mm256_setr_epi64x(0, 0, 4, 4);  // shift the upper 16 bytes by 4
  const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs));
  const __m256i start = _mm256_sub_epi32(
      _mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), xq));
  const __m256 xd = _mm256_set1_ps(half(xb.d));
  for (size_t r = 0; r < R; ++r) {
    const BlockQ4_0& wb = w[r * stride];
    const __m256i bytes =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.qs)));
    const __m256i q = _mm256_and_si256(_mm256_srlv_epi64(bytes, high_half), low4);
    const __m256 dot = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(start, q, xq));
    const __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(wb.d))), xd);
    acc[r] = _mm256_fmadd_ps(d, dot, acc[r]);
  }
}

// R rows of a block-quantized matrix: even blocks into acc[0], odd into acc[1], an odd tail
// block into acc[0], one horizontal sum per row, as the dots do.
template <size_t R, class Block, class Step>
inline void block_rows(const Block* w, size_t n_blocks, const BlockQ8_0* x, float* out, Step step) {
  __m256 acc[2][R];
  for (auto& a : acc) {
    for (auto& v : a) v = _mm256_setzero_ps();
  }
  LinearPrefetch prefetch(w);
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    prefetch.upto((b + 2) * R * sizeof(Block));
    step(w + b, n_blocks, x[b], acc[0]);
    step(w + b + 1, n_blocks, x[b + 1], acc[1]);
  }
  if (b < n_blocks) step(w + b, n_blocks, x[b], acc[0]);
  prefetch.upto(n_blocks * R * sizeof(Block));
  for (size_t r = 0; r < R; ++r) out[r] = hsum256(_mm256_add_ps(acc[0][r], acc[1][r]));
}

void matvec_q8_0_q8_0(const BlockQ8_0* w, size_t n_rows, const BlockQ8_0* x, size_t n_blocks,
                      float* out) {
  size_t r = 0;
  for (; r + kRows <= n_rows; r += kRows) {
    block_rows<kRows>(w + r * n_blocks, n_blocks, x, out + r,
                      [](auto&&... a) { q8_0_step<kRows>(a...); });
  }
  for (; r < n_rows; ++r) {
    block_rows<1>(w + r * n_blocks, n_blocks, x, out + r, [](auto&&... a) { q8_0_step<1>(a...); });
  }
}

void matvec_q4_0_q8_0(const BlockQ4_0* w, size_t n_rows, const BlockQ8_0* x, size_t n_blocks,
                      float* out) {
  size_t r = 0;
  for (; r + kRows <= n_rows; r += kRows) {
    block_rows<kRows>(w + r * n_blocks, n_blocks, x, out + r,
                      [](auto&&... a) { q4_0_step<kRows>(a...); });
  }
  for (; r < n_rows; ++r) {
    block_rows<1>(w + r * n_blocks, n_blocks, x, out + r, [](auto&&... a) { q4_0_step<1>(a...); });
  }
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
// own steps on it (chunk 2i into acc0, 2i + 1 into acc1, in order, then the same reduction), so
// every score equals that dot bit for bit.
template <size_t C>
void scores_rows(const uint16_t* keys, size_t row_stride, size_t n_rows, const float* q,
                 size_t n_queries, float* scores, size_t scores_stride) {
  constexpr size_t head_dim = 32 * C;
  for (size_t t = 0; t < n_rows; ++t) {
    const uint16_t* row = keys + t * row_stride;
    __m512 k[2 * C];
    for (size_t c = 0; c < 2 * C; ++c) {
      k[c] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 16 * c)));
    }
    for (size_t g = 0; g < n_queries; ++g) {
      const float* qg = q + g * head_dim;
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      for (size_t c = 0; c < C; ++c) {
        acc0 = _mm512_fmadd_ps(k[2 * c], _mm512_loadu_ps(qg + 32 * c), acc0);
        acc1 = _mm512_fmadd_ps(k[2 * c + 1], _mm512_loadu_ps(qg + 32 * c + 16), acc1);
      }
      scores[g * scores_stride + t] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
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

// ---- Matrix x batch products: a register tile of R rows x T tokens -------------------------
// Blocks 2p and 2p + 1 of a row share one 512-bit register (low and high half), as the packed
// activations do (ActivationPairQ8): each accumulator's low half steps exactly as the dot's acc0
// (even blocks) and its high half as acc1 (odd blocks), with the same int32 lanes and the same
// float scale products, and ends in the same sum (low + high, then hsum256): the dot's bits.
// Per pair of blocks, the R rows' quants and scales are loaded once for T tokens and each
// token's pair once for R rows; 4 x 4 accumulators plus those fill the 32 registers.
constexpr size_t kTileRows = 4;
constexpr size_t kTileTokens = 4;
// Tokens per pass over a row group: their packed activations (192 bytes a pair) stay in L2.
constexpr size_t kTokenChunk = 64;
// Row groups ahead whose weights the first token tile prefetches (the hardware prefetchers
// follow four interleaved rows poorly; see LinearPrefetch).
constexpr size_t kPrefetchGroups = 2;

// vpdpbusd's unsigned operand: Q8_0 quants xor 0x80 (w + 128; the activations' start lanes
// take the 128 * x back off).
struct Q8_0Pairs {
  using Block = BlockQ8_0;
  template <bool Full>
  static __m512i quants(const BlockQ8_0* b) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[0].qs));
    __m512i both = _mm512_zextsi256_si512(lo);
    if constexpr (Full) {
      both = _mm512_inserti64x4(both, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[1].qs)),
                                1);
    }
    return _mm512_xor_si512(both, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
  static __m512i start(const ActivationPairQ8& x) { return _mm512_load_si512(x.start); }
};

// Q4_0: the nibbles, unsigned already (elements 0-15 from the low nibbles, 16-31 from the high
// ones, as unpack_q4); the lanes start at -8 * (their four x) = (-128 * that sum) >> 4, exactly.
struct Q4_0Pairs {
  using Block = BlockQ4_0;
  template <bool Full>
  static __m512i quants(const BlockQ4_0* b) {
    const __m256i lo =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[0].qs)));
    __m512i bytes = _mm512_zextsi256_si512(lo);
    if constexpr (Full) {
      bytes = _mm512_inserti64x4(
          bytes,
          _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[1].qs))),
          1);
    }
    const __m512i shift = _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4);
    return _mm512_and_si512(_mm512_srlv_epi64(bytes, shift), _mm512_set1_epi8(0x0F));
  }
  static __m512i start(const ActivationPairQ8& x) {
    return _mm512_srai_epi32(_mm512_load_si512(x.start), 4);
  }
};

// Lanes 0-7 the scale of block 2p, 8-15 that of block 2p + 1 (0 for an odd tail).
inline __m512 pair_scales(uint16_t d0, uint16_t d1) {
  return _mm512_cvtph_ps(_mm256_set_m128i(_mm_set1_epi16(static_cast<short>(d1)),
                                          _mm_set1_epi16(static_cast<short>(d0))));
}

// One pair of blocks for the whole tile. An odd tail (Full = false) updates the low halves only.
template <class Pairs, size_t R, size_t T, bool Full>
inline void tile_step(const typename Pairs::Block* w, size_t n_blocks, const ActivationPairQ8* x,
                      size_t x_stride, __m512 (&acc)[R][T]) {
  __m512i u[R];
  __m512 wd[R];
  for (size_t r = 0; r < R; ++r) {
    const auto* b = w + r * n_blocks;
    u[r] = Pairs::template quants<Full>(b);
    wd[r] = pair_scales(b[0].d, Full ? b[1].d : uint16_t{0});
  }
  for (size_t t = 0; t < T; ++t) {
    const ActivationPairQ8& xp = x[t * x_stride];
    const __m512i xq = _mm512_load_si512(xp.qs);
    const __m512i start = Pairs::start(xp);
    const __m512 xd = _mm512_load_ps(xp.d);
    for (size_t r = 0; r < R; ++r) {
      const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, u[r], xq));
      const __m512 d = _mm512_mul_ps(wd[r], xd);
      if constexpr (Full) {
        acc[r][t] = _mm512_fmadd_ps(d, dot, acc[r][t]);
      } else {
        acc[r][t] = _mm512_mask3_fmadd_ps(d, dot, acc[r][t], 0x00FF);
      }
    }
  }
}

// R rows (row r at w + r * n_blocks) x T tokens (token t's pairs at x + t * x_stride); prefetches
// `ahead_bytes` at `ahead` along the way.
template <class Pairs, size_t R, size_t T>
void tile(const typename Pairs::Block* w, size_t n_blocks, const ActivationPairQ8* x,
          size_t x_stride, float* out, size_t out_stride, const char* ahead, size_t ahead_bytes) {
  __m512 acc[R][T];
  for (auto& row : acc) {
    for (auto& v : row) v = _mm512_setzero_ps();
  }
  const size_t full_pairs = n_blocks / 2;
  const char* next = ahead;
  for (size_t p = 0; p < full_pairs; ++p) {
    for (const char* want = ahead + ahead_bytes * (p + 1) / full_pairs; next < want; next += 64) {
      _mm_prefetch(next, _MM_HINT_T0);
    }
    tile_step<Pairs, R, T, true>(w + 2 * p, n_blocks, x + p, x_stride, acc);
  }
  if (n_blocks % 2 != 0) {
    tile_step<Pairs, R, T, false>(w + 2 * full_pairs, n_blocks, x + full_pairs, x_stride, acc);
  }
  for (size_t r = 0; r < R; ++r) {
    for (size_t t = 0; t < T; ++t) {
      out[t * out_stride + r] = hsum256(
          _mm256_add_ps(_mm512_castps512_ps256(acc[r][t]),
                        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][t]), 1))));
    }
  }
}

template <class Pairs, size_t R>
void tile_tokens(size_t n_tokens, const typename Pairs::Block* w, size_t n_blocks,
                 const ActivationPairQ8* x, size_t x_stride, float* out, size_t out_stride,
                 const char* ahead, size_t ahead_bytes) {
  switch (n_tokens) {
    case 4:
      return tile<Pairs, R, 4>(w, n_blocks, x, x_stride, out, out_stride, ahead, ahead_bytes);
    case 3:
      return tile<Pairs, R, 3>(w, n_blocks, x, x_stride, out, out_stride, ahead, ahead_bytes);
    case 2:
      return tile<Pairs, R, 2>(w, n_blocks, x, x_stride, out, out_stride, ahead, ahead_bytes);
    default:
      return tile<Pairs, R, 1>(w, n_blocks, x, x_stride, out, out_stride, ahead, ahead_bytes);
  }
}

template <class Pairs>
void matmul_pairs(const typename Pairs::Block* w, size_t n_rows, size_t n_blocks,
                  const ActivationPairQ8* x, size_t n_tokens, float* out, size_t out_stride) {
  using Block = typename Pairs::Block;
  const size_t x_stride = (n_blocks + 1) / 2;
  for (size_t t0 = 0; t0 < n_tokens; t0 += kTokenChunk) {
    const size_t t1 = std::min(n_tokens, t0 + kTokenChunk);
    for (size_t r = 0; r < n_rows; r += kTileRows) {
      const size_t nr = std::min(kTileRows, n_rows - r);
      // The first token tile of a group prefetches the weights kPrefetchGroups groups ahead.
      const size_t ahead_row = std::min(n_rows, r + kPrefetchGroups * kTileRows);
      const size_t ahead_rows = std::min(kTileRows, n_rows - ahead_row);
      const char* ahead = reinterpret_cast<const char*>(w + ahead_row * n_blocks);
      size_t ahead_bytes = ahead_rows * n_blocks * sizeof(Block);
      for (size_t t = t0; t < t1; t += kTileTokens) {
        const size_t nt = std::min(kTileTokens, t1 - t);
        const Block* wr = w + r * n_blocks;
        const ActivationPairQ8* xt = x + t * x_stride;
        float* o = out + t * out_stride + r;
        switch (nr) {
          case 4:
            tile_tokens<Pairs, 4>(nt, wr, n_blocks, xt, x_stride, o, out_stride, ahead,
                                  ahead_bytes);
            break;
          case 3:
            tile_tokens<Pairs, 3>(nt, wr, n_blocks, xt, x_stride, o, out_stride, ahead,
                                  ahead_bytes);
            break;
          case 2:
            tile_tokens<Pairs, 2>(nt, wr, n_blocks, xt, x_stride, o, out_stride, ahead,
                                  ahead_bytes);
            break;
          default:
            tile_tokens<Pairs, 1>(nt, wr, n_blocks, xt, x_stride, o, out_stride, ahead,
                                  ahead_bytes);
        }
        ahead_bytes = 0;
      }
    }
  }
}

void matmul_q8_0_q8_0(const BlockQ8_0* w, size_t n_rows, size_t n_blocks, const ActivationPairQ8* x,
                      size_t n_tokens, float* out, size_t out_stride) {
  matmul_pairs<Q8_0Pairs>(w, n_rows, n_blocks, x, n_tokens, out, out_stride);
}

void matmul_q4_0_q8_0(const BlockQ4_0* w, size_t n_rows, size_t n_blocks, const ActivationPairQ8* x,
                      size_t n_tokens, float* out, size_t out_stride) {
  matmul_pairs<Q4_0Pairs>(w, n_rows, n_blocks, x, n_tokens, out, out_stride);
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
                                       &matmul_q8_0_q8_0,
                                       &matmul_q4_0_q8_0,
                                       &attention_scores_f16,
                                       &matmul_q4_k_q8_k_avx512};

}  // namespace sy::engine::kernels

#endif  // __x86_64__
