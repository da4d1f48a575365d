// AVX2 + FMA + F16C overrides. This file alone is compiled with those flags (local_engine/
// CMakeLists.txt) and is only called after cpuid says the processor has them, so it uses no
// inline function shared with other files (an AVX2 copy could otherwise win at link time).

#if defined(__x86_64__)

#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/cpu/attention_heads.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/matmul_q4_k.h"
#include "kernels/cpu/side_prefetch.h"

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

// 8 bf16 -> 8 floats: bf16 is the top half of an f32, so widening is exact.
inline __m256 widen_bf16(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

float dot_bf16_f32(const uint16_t* a, const float* b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(widen_bf16(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(widen_bf16(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(widen_bf16(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(widen_bf16(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm256_fmadd_ps(widen_bf16(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) {
    const uint32_t bits = uint32_t{a[i]} << 16;
    float v;
    std::memcpy(&v, &bits, 4);
    sum += v * b[i];
  }
  return sum;
}

// The 8 scales (bytes 0-7) and 8 mins (bytes 8-15) of a Q4_K block, unpacked from their 6-bit
// packing with word-wide masks (layout in cpu_kernels.h).
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

// Word j of each 128-bit lane, in all 8 words of the lane.
inline __m256i broadcast_word(__m256i v, int j) {
  return _mm256_shuffle_epi8(v, _mm256_set1_epi16(static_cast<short>(0x0100 + 0x0202 * j)));
}

// One Q4_K x Q8_K super-block's exact integers (cpu_kernels.h's Q4_K contract): S, the
// scaled sum, and M, the mins' sum.
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
    sum0 = _mm256_add_epi32(
        sum0, _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x_lo), broadcast_word(scales, 2 * c)));
    sum1 = _mm256_add_epi32(
        sum1, _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x_hi), broadcast_word(scales, 2 * c + 1)));
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
    acc = std::fma(static_cast<float>(scaled), _cvtsh_ss(w[b].d) * x[b].d, acc);
    acc = std::fma(-static_cast<float>(mins), _cvtsh_ss(w[b].dmin) * x[b].d, acc);
  }
  return acc;
}

// One Q6_K x Q8_K super-block into acc: sum_k sc_k * (q - 32) . x over sub-blocks of 16, the -32
// taken through the activation sums so the quants stay unsigned for maddubs.
inline void q6_k_block(const BlockQ6_K& w, const BlockQ8_K& x, __m256& acc) {
  const __m256i scales =
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales)));
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums));
  const __m256i offset = _mm256_madd_epi16(bsums, scales);  // sum_k sc_k * bsum_k, 8 lanes
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256i sum0 = _mm256_setzero_si256(), sum1 = _mm256_setzero_si256();
  for (int h = 0; h < 2; ++h) {
    // Scales of this half (sub-blocks 8h..8h+7) in both lanes.
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
      // Words 0-7 are sub-block 2g of the half, words 8-15 sub-block 2g + 1.
      const __m256i sc_g = _mm256_shuffle_epi8(
          sc, _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(0x0302 + 0x0404 * g)),
                               _mm_set1_epi16(static_cast<short>(0x0100 + 0x0404 * g))));
      // |q . x| per pair <= 2 * 63 * 127: no int16 saturation.
      const __m256i prod = _mm256_madd_epi16(_mm256_maddubs_epi16(q[g], xg), sc_g);
      if (g % 2 == 0) {
        sum0 = _mm256_add_epi32(sum0, prod);
      } else {
        sum1 = _mm256_add_epi32(sum1, prod);
      }
    }
  }
  const __m256i isum = _mm256_sub_epi32(_mm256_add_epi32(sum0, sum1), _mm256_slli_epi32(offset, 5));
  acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(w.d) * x.d), _mm256_cvtepi32_ps(isum), acc);
}

float dot_q6_k_q8_k(const BlockQ6_K* w, const BlockQ8_K* x, size_t n_blocks) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    q6_k_block(w[b], x[b], acc0);
    q6_k_block(w[b + 1], x[b + 1], acc1);
  }
  if (b < n_blocks) q6_k_block(w[b], x[b], acc0);
  return hsum(_mm256_add_ps(acc0, acc1));
}

// ---- Matrix-vector products, a group of rows at a time --------------------------------------
// Each row keeps the accumulators and the order of its single-row dot above, so every output
// equals that dot bit for bit (cpu_kernels.h); a group of kRows rows shares each load of the
// activations and their scale, and the rows' independent chains hide each other's latency.
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
// 8 int32 lanes of one Q8_0 block of w against x, summing to the block's integer dot. maddubs
// wants one unsigned operand: |w| and x carrying w's sign give the same products, and its pairs
// stay within int16 (2 * 128 * 127).
inline __m256i q8_0_lanes(const BlockQ8_0& w, __m256i xq) {
  const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs));
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// Q4_0: the nibbles q in [0, 15] go straight into maddubs (pairs <= 2 * 15 * 127); `offset` is
// the lanes of 8 * x, the -8 each quant owes.
inline __m256i q4_0_lanes(const BlockQ4_0& w, __m256i xq, __m256i offset) {
  const __m256i bytes =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.qs)));
  const __m256i q =
      _mm256_and_si256(_mm256_srlv_epi64(bytes, _mm256_setr_epi64x(0, 0, 4, 4)),
                       _mm256_set1_epi8(0x0F));
  return _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q, xq), _mm256_set1_epi16(1)),
                          offset);
}

// Lane r (0-3) = the sum of the 8 lanes of the r-th argument: four rows' integer block dots.
inline __m128i sum4(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// R (1 or 4) row-major rows (row r at w + r * n_blocks), one float lane per row stepping the
// contract's chain: per block, the exact int32 dots, then one FMA by wd * xd.
template <size_t R, bool kQ4, class Block>
inline void chain_rows(const Block* w, size_t n_blocks, const BlockQ8_0* x, float* out) {
  static_assert(R == 1 || R == 4);
  __m128 acc = _mm_setzero_ps();
  LinearPrefetch prefetch(w);
  for (size_t b = 0; b < n_blocks; ++b) {
    prefetch.upto((b + 1) * R * sizeof(Block));
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs));
    __m256i offset = _mm256_setzero_si256();
    if constexpr (kQ4) {
      offset = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), xq),
                                 _mm256_set1_epi16(1));
    }
    __m256i lanes[4] = {};
    uint16_t d[8] = {};
    for (size_t r = 0; r < R; ++r) {
      const Block& wb = w[r * n_blocks + b];
      if constexpr (kQ4) {
        lanes[r] = q4_0_lanes(wb, xq, offset);
      } else {
        lanes[r] = q8_0_lanes(wb, xq);
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

// Row groups: each 64-byte line of a group block holds 16 rows x 4 quants; here it is taken as
// two halves of 8 rows (one YMM each), every lane one row's chain.
inline __m256i bcast32(const int8_t* q) {
  int32_t v;
  std::memcpy(&v, q, 4);
  return _mm256_set1_epi32(v);
}

// The int32 block dots of 8 rows (half h of the group) with one activation block.
inline __m256i group_lanes(const RowGroupQ8_0& g, size_t h, const ActivationQ8& a) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i sum = _mm256_setzero_si256();
  for (size_t k = 0; k < 8; ++k) {
    const __m256i w = _mm256_xor_si256(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.qs[k] + 32 * h)), flip);
    const __m256i pairs =
        _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(bcast32(a.qs + 4 * k), w));
    sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, ones));
  }
  return sum;
}

inline __m256i group_lanes(const RowGroupQ4_0& g, size_t h, const ActivationQ8& a) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i sum = _mm256_set1_epi32(-8 * a.sum);
  for (size_t k = 0; k < 4; ++k) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.qs[k] + 32 * h));
    const __m256i lo = _mm256_and_si256(v, low4);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    sum = _mm256_add_epi32(
        sum, _mm256_madd_epi16(_mm256_maddubs_epi16(lo, bcast32(a.qs + 4 * k)), ones));
    sum = _mm256_add_epi32(
        sum, _mm256_madd_epi16(_mm256_maddubs_epi16(hi, bcast32(a.qs + 16 + 4 * k)), ones));
  }
  return sum;
}

// One group x T tokens; `side` (or nullptr) steps once per block.
template <size_t T, class Group>
inline void group_tile(const Group* w, size_t n_blocks, const ActivationQ8* x, float* out,
                       size_t out_stride, SidePrefetch* side) {
  __m256 acc[T][2];
  for (auto& t : acc) t[0] = t[1] = _mm256_setzero_ps();
  LinearPrefetch prefetch(w);
  for (size_t b = 0; b < n_blocks; ++b) {
    if constexpr (T == 1) prefetch.upto((b + 1) * sizeof(Group));
    if (side != nullptr) side->step();
    const Group& g = w[b];
    const __m256 wd[2] = {
        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g.d))),
        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g.d + 8)))};
    for (size_t t = 0; t < T; ++t) {
      const ActivationQ8& a = x[t * n_blocks + b];
      const __m256 xd = _mm256_set1_ps(a.d);
      for (size_t h = 0; h < 2; ++h) {
        acc[t][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(group_lanes(g, h, a)),
                                    _mm256_mul_ps(wd[h], xd), acc[t][h]);
      }
    }
  }
  for (size_t t = 0; t < T; ++t) {
    _mm256_storeu_ps(out + t * out_stride, acc[t][0]);
    _mm256_storeu_ps(out + t * out_stride + 8, acc[t][1]);
  }
}

// `side` steps in each group's first tile.
template <class Group>
void matmul_groups(const Group* w, size_t n_groups, size_t n_blocks, const ActivationQ8* x,
                   size_t n_tokens, float* out, size_t out_stride, SidePrefetch* side) {
  for (size_t g = 0; g < n_groups; ++g) {
    const Group* wg = w + g * n_blocks;
    float* o = out + g * kGroupRows;
    SidePrefetch* first = side;
    size_t t = 0;
    for (; t + 4 <= n_tokens; t += 4) {
      group_tile<4>(wg, n_blocks, x + t * n_blocks, o + t * out_stride, out_stride, first);
      first = nullptr;
    }
    for (; t < n_tokens; ++t) {
      group_tile<1>(wg, n_blocks, x + t * n_blocks, o + t * out_stride, out_stride, first);
      first = nullptr;
    }
  }
}

void matmul_q8_0_groups(const RowGroupQ8_0* w, size_t n_groups, size_t n_blocks,
                        const ActivationQ8* x, size_t n_tokens, float* out, size_t out_stride,
                        SidePrefetch* side) {
  matmul_groups(w, n_groups, n_blocks, x, n_tokens, out, out_stride, side);
}

void matmul_q4_0_groups(const RowGroupQ4_0* w, size_t n_groups, size_t n_blocks,
                        const ActivationQ8* x, size_t n_tokens, float* out, size_t out_stride,
                        SidePrefetch* side) {
  matmul_groups(w, n_groups, n_blocks, x, n_tokens, out, out_stride, side);
}

// R rows of F16 weights, each as dot_f16_f32: two accumulators over steps of 16, one horizontal
// sum, then the scalar tail.
template <size_t R>
inline void f16_rows(const uint16_t* a, const float* b, size_t n, float* out) {
  __m256 acc0[R], acc1[R];
  for (size_t r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  LinearPrefetch prefetch(a);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    prefetch.upto((i + 16) * R * sizeof(uint16_t));
    const __m256 b0 = _mm256_loadu_ps(b + i), b1 = _mm256_loadu_ps(b + i + 8);
    for (size_t r = 0; r < R; ++r) {
      const uint16_t* row = a + r * n + i;
      const __m256 a0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row)));
      const __m256 a1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 8)));
      acc0[r] = _mm256_fmadd_ps(a0, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(a1, b1, acc1[r]);
    }
  }
  for (size_t r = 0; r < R; ++r) {
    const uint16_t* row = a + r * n;
    float sum = hsum(_mm256_add_ps(acc0[r], acc1[r]));
    for (size_t j = i; j < n; ++j) sum += half(row[j]) * b[j];
    out[r] = sum;
  }
}

void matvec_f16_f32(const uint16_t* w, size_t n_rows, const float* x, size_t n, float* out) {
  size_t r = 0;
  for (; r + kRows <= n_rows; r += kRows) f16_rows<kRows>(w + r * n, x, n, out + r);
  for (; r < n_rows; ++r) f16_rows<1>(w + r * n, x, n, out + r);
}

// R rows of BF16 weights, each as dot_bf16_f32: four accumulators over steps of 32, steps of 8
// into the first, one horizontal sum, the scalar tail. Two rows at a time: 8 accumulators and
// the 4 activation vectors fit the 16 YMM registers.
template <size_t R>
inline void bf16_rows(const uint16_t* a, const float* b, size_t n, float* out) {
  __m256 acc[4][R];
  for (auto& k : acc) {
    for (auto& v : k) v = _mm256_setzero_ps();
  }
  LinearPrefetch prefetch(a);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    prefetch.upto((i + 32) * R * sizeof(uint16_t));
    for (int k = 0; k < 4; ++k) {
      const __m256 bk = _mm256_loadu_ps(b + i + 8 * k);
      for (size_t r = 0; r < R; ++r) {
        acc[k][r] = _mm256_fmadd_ps(widen_bf16(a + r * n + i + 8 * k), bk, acc[k][r]);
      }
    }
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 b0 = _mm256_loadu_ps(b + i);
    for (size_t r = 0; r < R; ++r) {
      acc[0][r] = _mm256_fmadd_ps(widen_bf16(a + r * n + i), b0, acc[0][r]);
    }
  }
  for (size_t r = 0; r < R; ++r) {
    const uint16_t* row = a + r * n;
    float sum = hsum(
        _mm256_add_ps(_mm256_add_ps(acc[0][r], acc[1][r]), _mm256_add_ps(acc[2][r], acc[3][r])));
    for (size_t j = i; j < n; ++j) {
      const uint32_t bits = uint32_t{row[j]} << 16;
      float v;
      std::memcpy(&v, &bits, 4);
      sum += v * b[j];
    }
    out[r] = sum;
  }
}

void matvec_bf16_f32(const uint16_t* w, size_t n_rows, const float* x, size_t n, float* out) {
  size_t r = 0;
  for (; r + 2 <= n_rows; r += 2) bf16_rows<2>(w + r * n, x, n, out + r);
  for (; r < n_rows; ++r) bf16_rows<1>(w + r * n, x, n, out + r);
}

// std::round of each lane (half away from zero), exactly: truncate, then step away from zero
// where the dropped fraction is at least one half (the difference is exact below 2^23).
inline __m256 round_half_away(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 up =
      _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
  return _mm256_add_ps(t, _mm256_and_ps(up, step));
}

// As quantize_row_q8_0: the same amax (max is exact in any order), d, 1/d and products.
void quantize_q8_0(const float* x, BlockQ8_0* y, size_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (size_t b = 0; b < n / 32; ++b) {
    __m256 v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(x + 32 * b + 8 * k);
    __m256 m =
        _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                      _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    const __m256 s = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = _mm256_cvttps_epi32(round_half_away(_mm256_mul_ps(v[k], s)));
    // packs work within 128-bit lanes: the dword permutation puts the bytes back in order.
    const __m256i bytes =
        _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(y[b].qs),
        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
}

// G queries x C chunks of 8 elements: G * C accumulators stay in registers over the whole range
// of t (at most 8 of the 16 YMM registers), each row's chunks read once for all G queries.
template <size_t G, size_t C>
inline void values_block(const uint16_t* values, size_t row_stride, size_t n_rows,
                         const float* probs, size_t probs_stride, size_t head_dim, float* out) {
  __m256 acc[G][C];
  for (size_t g = 0; g < G; ++g) {
    for (size_t c = 0; c < C; ++c) acc[g][c] = _mm256_loadu_ps(out + g * head_dim + 8 * c);
  }
  for (size_t t = 0; t < n_rows; ++t) {
    const uint16_t* row = values + t * row_stride;
    for (size_t c = 0; c < C; ++c) {
      const __m256 v =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 8 * c)));
      for (size_t g = 0; g < G; ++g) {
        acc[g][c] = _mm256_fmadd_ps(_mm256_set1_ps(probs[g * probs_stride + t]), v, acc[g][c]);
      }
    }
  }
  for (size_t g = 0; g < G; ++g) {
    for (size_t c = 0; c < C; ++c) _mm256_storeu_ps(out + g * head_dim + 8 * c, acc[g][c]);
  }
}

template <size_t G>
inline void values_queries(const uint16_t* values, size_t row_stride, size_t n_rows,
                           const float* probs, size_t probs_stride, size_t head_dim, float* out) {
  size_t i = 0;
  for (; i + 16 <= head_dim; i += 16) {
    values_block<G, 2>(values + i, row_stride, n_rows, probs, probs_stride, head_dim, out + i);
  }
  if (i + 8 <= head_dim) {
    values_block<G, 1>(values + i, row_stride, n_rows, probs, probs_stride, head_dim, out + i);
    i += 8;
  }
  // The last head_dim % 8 elements: scalar fmas, the same operation as the vector lanes.
  for (; i < head_dim; ++i) {
    for (size_t g = 0; g < G; ++g) {
      float o = out[g * head_dim + i];
      for (size_t t = 0; t < n_rows; ++t) {
        o = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(probs[g * probs_stride + t]),
                                       _mm_set_ss(half(values[t * row_stride + i])),
                                       _mm_set_ss(o)));
      }
      out[g * head_dim + i] = o;
    }
  }
}

// Queries in groups of up to 4, 16 elements of the head at a time.
// Head widths of 16 * C: the key row is widened once into 2C registers, then each query runs
// dot_f16_f32's own steps on it (halves 2c into acc0, 2c + 1 into acc1, in order, then hsum),
// so every score equals that dot bit for bit.
template <size_t C>
void scores_rows(const uint16_t* keys, size_t row_stride, size_t n_rows, const float* q,
                 size_t n_queries, float* scores, size_t scores_stride) {
  constexpr size_t head_dim = 16 * C;
  for (size_t t = 0; t < n_rows; ++t) {
    const uint16_t* row = keys + t * row_stride;
    __m256 k[2 * C];
#pragma GCC unroll 16
    for (size_t c = 0; c < 2 * C; ++c) {
      k[c] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 8 * c)));
    }
    for (size_t g = 0; g < n_queries; ++g) {
      const float* qg = q + g * head_dim;
      __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
#pragma GCC unroll 8
      for (size_t c = 0; c < C; ++c) {
        acc0 = _mm256_fmadd_ps(k[2 * c], _mm256_loadu_ps(qg + 16 * c), acc0);
        acc1 = _mm256_fmadd_ps(k[2 * c + 1], _mm256_loadu_ps(qg + 16 * c + 8), acc1);
      }
      scores[g * scores_stride + t] = hsum(_mm256_add_ps(acc0, acc1));
    }
  }
}

void attention_scores_f16(const uint16_t* keys, size_t row_stride, size_t n_rows, const float* q,
                          size_t n_queries, size_t head_dim, float* scores, size_t scores_stride) {
  if (head_dim == 64) {
    return scores_rows<4>(keys, row_stride, n_rows, q, n_queries, scores, scores_stride);
  }
  if (head_dim == 128) {
    return scores_rows<8>(keys, row_stride, n_rows, q, n_queries, scores, scores_stride);
  }
  for (size_t t = 0; t < n_rows; ++t) {
    for (size_t g = 0; g < n_queries; ++g) {
      scores[g * scores_stride + t] =
          dot_f16_f32(keys + t * row_stride, q + g * head_dim, head_dim);
    }
  }
}

void attention_values_f16(const uint16_t* values, size_t row_stride, size_t n_rows,
                          const float* probs, size_t probs_stride, size_t n_queries,
                          size_t head_dim, float* out) {
  for (size_t g = 0; g < n_queries; g += 4) {
    const float* p = probs + g * probs_stride;
    float* o = out + g * head_dim;
    switch (n_queries - g < 4 ? n_queries - g : 4) {
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

// As exp512 in avx512_kernels.cpp, without scalef: 2^n is built in the exponent field, so x is
// clamped to [-87.6, 88.3] (n in [-126, 127]; from -87.34 the product with p is a denormal) and
// lanes below -87.6 are set to 0 (exp there is below 1e-38, a denormal in the generic set).
inline __m256 exp256(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.6f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_set1_ps(88.3f), _mm256_max_ps(lo, x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

// The first `left` (< 8) lanes set, for masked loads and stores of a tail.
inline __m256i tail_mask(size_t left) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

uint64_t read_lines(const std::byte* p, size_t bytes) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= bytes; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

// Lanes of running maxima: _mm256_max_ps(x, acc) keeps acc where x is NaN.
float scale_max(float* x, size_t n, float scale) {
  const __m256 s = _mm256_set1_ps(scale);
  __m256 acc = _mm256_set1_ps(-INFINITY);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), s);
    _mm256_storeu_ps(x + i, v);
    acc = _mm256_max_ps(v, acc);
  }
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    const __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + i, k), s);
    _mm256_maskstore_ps(x + i, k, v);
    acc = _mm256_max_ps(_mm256_blendv_ps(acc, v, _mm256_castsi256_ps(k)), acc);
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, acc);
  float max = -INFINITY;
  for (float l : lanes) max = std::max(max, l);
  return max;
}

float softmax_exp(float* x, size_t n, float max) {
  const __m256 m = _mm256_set1_ps(max);
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    const __m256 e = _mm256_and_ps(_mm256_castsi256_ps(k),
                                   exp256(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), m)));
    _mm256_maskstore_ps(x + i, k, e);
    acc = _mm256_add_ps(acc, e);
  }
  return hsum(acc);
}

}  // namespace

extern const CpuKernels kAvx2Kernels{"avx2",
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
                                     &matmul_q4_k_q8_k_avx2,
                                     &scale_max,
                                     &softmax_exp,
                                     nullptr,  // silu_mul: LlamaCpu's portable lanes
                                     nullptr,  // fp32_to_fp16_row: the caller's loop
                                     nullptr,  // exp_sum: log_softmax's portable lanes
                                     &matmul_q4_k_groups_avx2,
                                     &quantize_row_q8_k,
                                     &attention_scores_heads<&attention_scores_f16>,
                                     &attention_values_heads<&attention_values_f16>,
                                     &read_lines};

}  // namespace sy::engine::kernels

#endif  // __x86_64__
