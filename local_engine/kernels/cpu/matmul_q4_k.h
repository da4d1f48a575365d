#pragma once
// The tiled Q4_K x Q8_K matmul (prefill): a register tile of weight rows x tokens loads each
// pair of weight super-blocks once per tile and each token's pair of activation super-blocks
// once per row group, where matmul's fallback runs one dot per (row, token).
//
// Contract (cpu_kernels.h): out[t * out_stride + r] equals the set's dot_q4_k_q8_k on row r and
// activation t bit for bit. The ISA's dot keeps two float accumulators per row (even super-blocks
// into acc0/min0, odd into acc1/min1, an odd tail into the first), each stepped by an fma of the
// block's 8 exact int32 lanes with the float product d_w * d_x; the tile keeps super-blocks 2p and
// 2p + 1 in the low and high halves of one 512-bit accumulator, so each half steps exactly as
// acc0 or acc1 does, and ends in the same sum.
//
// Split of the work: this file (plain C++) packs the activations and unpacks the weights' 6-bit
// scales once per chunk of tokens and row group; the ISA file only runs the tiles on those.

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace sy::engine::kernels {

// Super-blocks 2p and 2p + 1 of one token's Q8_K activations, side by side: qs[j] holds
// sub-block j (32 quants) of block 2p, then the same of block 2p + 1; bsums the 16 sums of
// block 2p then those of 2p + 1; d that block's scale in lanes 0-7, the other's in lanes 8-15.
// An odd tail pairs the last block with zeros.
struct alignas(64) Q8KPair {
  int8_t qs[8][64];
  int16_t bsums[32];
  float d[16];
};
static_assert(sizeof(Q8KPair) == 640);

// Super-blocks 2p and 2p + 1 of one Q4_K weight row, their scales unpacked: sc holds the 8
// 6-bit sub-block scales of block 2p as words, twice (one copy per 128-bit lane, for in-lane
// word broadcasts), then those of 2p + 1 twice; m holds each 6-bit min twice in a row
// (m0, m0, m1, m1, ..., one word per 16-sum of bsums) for 2p then 2p + 1; d and dmin the
// blocks' fp16 scales as floats, lanes 0-7 and 8-15. Zeros for an odd tail.
struct alignas(64) Q4KPairScales {
  int16_t sc[32];
  int16_t m[32];
  float d[16];
  float dmin[16];
};
static_assert(sizeof(Q4KPairScales) == 256);

// Runs an ISA's tiles over n_rows (at most `group_rows`) rows x n_tokens tokens: w (n_rows,
// n_blocks) blocks, s (n_rows, pairs) and x (n_tokens, pairs) with pairs = (n_blocks + 1) / 2,
// out[t * out_stride + r].
using Q4KRowGroupKernel = void (*)(const BlockQ4_K* w, size_t n_rows, size_t n_blocks,
                                   const Q4KPairScales* s, const Q8KPair* x, size_t n_tokens,
                                   float* out, size_t out_stride);

// The driver every ISA's matmul_q4_k_q8_k calls: splits tokens into chunks whose packed
// activations stay in L2, packs them, and for each row group of `group_rows` unpacks the scales
// and runs `kernel`. Scratch is thread_local, so concurrent calls over row ranges are fine.
void matmul_q4_k_tiled(Q4KRowGroupKernel kernel, size_t group_rows, const BlockQ4_K* w,
                       size_t n_rows, size_t n_blocks, const BlockQ8_K* x, size_t n_tokens,
                       float* out, size_t out_stride);

// The ISA entry points (CpuKernels::matmul_q4_k_q8_k), defined in kernels/cpu/x86/.
void matmul_q4_k_q8_k_avx512(const BlockQ4_K* w, size_t n_rows, size_t n_blocks,
                             const BlockQ8_K* x, size_t n_tokens, float* out, size_t out_stride);

}  // namespace sy::engine::kernels
