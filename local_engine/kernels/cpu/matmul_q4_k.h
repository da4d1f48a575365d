#pragma once
// The tiled Q4_K x Q8_K matmul (prefill): a register tile of weight rows x tokens loads each
// weight super-block, unpacked once per row group, once per tile and each token's activation
// super-block once per tile row, where matmul's fallback runs one dot per (row, token) and
// unpacks the weights' nibbles and 6-bit scales in every one.
//
// Contract (cpu_kernels.h): out[t * out_stride + r] equals the set's dot_q4_k_q8_k on row r and
// activation t bit for bit. The ISA's dot keeps two float accumulators per row (even super-blocks
// into acc0/min0, odd into acc1/min1, an odd tail into the first), each stepped by an fma of the
// block's 8 exact int32 lanes with the float product d_w * d_x; the AVX-512 tile keeps two
// tokens in the low and high halves of each 512-bit register (the weights broadcast to both), the
// AVX2 one a token a register, so each 8 lanes step exactly as that token's acc0, acc1, min0 or
// min1 does, the even and odd chains one after the other, and end in the same sum.
//
// Split of the work: this file (plain C++) packs the activations in token pairs once per chunk
// of tokens; the ISA file unpacks each row group's nibbles and 6-bit scales once per chunk and
// runs the tiles on those.

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace sy::engine::kernels {

// The vpdpbusd order of two sub-blocks (a run: 2c and 2c + 1, 64 elements): within each 16-byte
// lane L (0, 1) of 32 bytes, A holds the groups of four elements (4i..4i+3) i = 4L, 4L + 1 of
// both sub-blocks interleaved: [2c:i, 2c+1:i, 2c:i+1, 2c+1:i+1]; B the same for i = 4L + 2,
// 4L + 3. Two vpdpbusd (A and B) then one vpackssdw give, in 32-bit lane i, the words of group i
// of both sub-blocks, so one vpdpwssd with the word pair (sc_2c, sc_2c+1) adds exactly what the
// dot adds to its lane i. Weights and activations are permuted alike, once, when unpacked.

// Super-block b of two tokens' Q8_K activations side by side (tokens 2i and 2i + 1): qs[2c]
// holds run c's A bytes (above) of token 2i, then of token 2i + 1; qs[2c + 1] the B bytes; bsums
// token 2i's 16 sums, then token 2i + 1's; d token 2i's scale in lanes 0-7, the other's in lanes
// 8-15. An odd token count ends with a pair whose second token is zeros.
struct alignas(64) Q8KTokenPair {
  int8_t qs[8][64];
  int16_t bsums[32];
  float d[16];
};
static_assert(sizeof(Q8KTokenPair) == 640);

// Super-block b of one Q4_K weight row, unpacked once per row group and chunk of tokens: q[2c]
// and q[2c + 1] the A and B bytes of run c's nibbles; sc[c] the 6-bit scales of sub-blocks 2c
// and 2c + 1 as words (one int32, for a broadcast to every lane of vpdpwssd); m each 6-bit min
// twice in a row (m0, m0, m1, m1, ...: one word per 16-sum of bsums); d and dmin the fp16
// scales as floats.
struct alignas(64) Q4KUnpacked {
  uint8_t q[8][32];
  int16_t sc[4][2];
  int16_t m[16];
  float d;
  float dmin;
};
static_assert(sizeof(Q4KUnpacked) == 320);

// Runs an ISA's tiles over n_rows (at most `group_rows`) rows x n_tokens tokens: w (n_rows,
// n_blocks) blocks, x ((n_tokens + 1) / 2, n_blocks) token pairs, out[t * out_stride + r];
// `unpacked` (group_rows, n_blocks) is scratch for the rows' unpacked blocks.
using Q4KRowGroupKernel = void (*)(const BlockQ4_K* w, size_t n_rows, size_t n_blocks,
                                   Q4KUnpacked* unpacked, const Q8KTokenPair* x, size_t n_tokens,
                                   float* out, size_t out_stride);

// The driver every ISA's matmul_q4_k_q8_k calls: splits tokens into chunks whose packed
// activations stay in L2, packs them, and runs `kernel` on each row group of `group_rows` rows.
// Scratch is thread_local, so concurrent calls over row ranges are fine.
void matmul_q4_k_tiled(Q4KRowGroupKernel kernel, size_t group_rows, const BlockQ4_K* w,
                       size_t n_rows, size_t n_blocks, const BlockQ8_K* x, size_t n_tokens,
                       float* out, size_t out_stride);

// The ISA entry points (CpuKernels::matmul_q4_k_q8_k), defined in kernels/cpu/x86/.
void matmul_q4_k_q8_k_avx512(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, const BlockQ8_K* x,
                             size_t n_tokens, float* out, size_t out_stride);
void matmul_q4_k_q8_k_avx2(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, const BlockQ8_K* x,
                           size_t n_tokens, float* out, size_t out_stride);

}  // namespace sy::engine::kernels
