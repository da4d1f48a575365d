#pragma once
// Q4_K x Q8_K products over row groups (RowGroupQ4_K, cpu_kernels.h): 16 rows in the 32-bit lanes
// of one register, so a vpdpbusd with 4 broadcast activation bytes sums 4 elements of each of
// the 16 rows, one vpmulld per sub-block applies the 16 rows' 6-bit scales, and the float steps
// of the Q4_K contract (two fmas per super-block) run once per super-block for 16 outputs.
// Weights are regrouped once at load (LlamaCpu::group_weights, through row_groups.h), in the
// bytes of the row-major rows, so the copy costs no memory; matmul_q4_k_q8_k on row-major rows
// regroups 16 rows at a time into a scratch.
//
// Contract (cpu_kernels.h's Q4_K chain): every output equals dot_q4_k_q8_k on its row and token
// bit for bit, in every set, whatever the token count, row range or layout.

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/matvec.h"

namespace sy::engine::kernels {

// 16 row-major rows of n_blocks super-blocks (row i at rows + i * n_blocks; rows past n_rows,
// n_rows < 16, read as zero blocks) -> one group (n_blocks RowGroupQ4_K).
void group_q4_k(const BlockQ4_K* rows, size_t n_rows, size_t n_blocks, RowGroupQ4_K* out);
// Row i (0..15) of a group back to its n_blocks row-major super-blocks.
void ungroup_row_q4_k(const RowGroupQ4_K* group, size_t n_blocks, size_t i, BlockQ4_K* row);

// A set's row-group kernel (CpuKernels::matmul_q4_k_groups) and dot.
using Q4KGroupsKernel = void (*)(const RowGroupQ4_K* w, size_t n_groups, size_t n_blocks,
                                 const BlockQ8_K* x, size_t n_tokens, float* out, size_t out_stride,
                                 SidePrefetch* side);
using Q4KDot = float (*)(const BlockQ4_K* w, const BlockQ8_K* x, size_t n_blocks);

// A row-group kernel for sets without a vector one: each row ungrouped, then `dot` per token.
void matmul_q4_k_groups_by_rows(Q4KDot dot, const RowGroupQ4_K* w, size_t n_groups, size_t n_blocks,
                                const BlockQ8_K* x, size_t n_tokens, float* out, size_t out_stride);
void matmul_q4_k_groups_generic(const RowGroupQ4_K* w, size_t n_groups, size_t n_blocks,
                                const BlockQ8_K* x, size_t n_tokens, float* out, size_t out_stride,
                                SidePrefetch* side);

// CpuKernels::matmul_q4_k_q8_k on row-major rows through a set's row-group kernel: 16 rows at a
// time regrouped into a thread_local scratch (the last group padded with zero rows, whose
// outputs are dropped).
void matmul_q4_k_rows_via_groups(Q4KGroupsKernel kernel, const BlockQ4_K* w, size_t n_rows,
                                 size_t n_blocks, const BlockQ8_K* x, size_t n_tokens, float* out,
                                 size_t out_stride);

// out[t * out_stride + r] = row r . token t for r in [row_begin, row_end) and t < n_tokens, w
// a grouped Q4_K view (MatrixView::grouped; the rows past the last group row-major), token t's
// blocks at x + t * cols / 256. Whole groups through the set's group kernel, a group the range
// cuts into a 16-row scratch, the row-major rows through the set's dot: the same bits for any
// split. `side` (or nullptr) goes to the whole groups' kernel calls (row_groups.h's group_steps).
void grouped_rows_q4_k(const CpuKernels& k, const MatrixView& w, const BlockQ8_K* x,
                       size_t n_tokens, float* out, size_t out_stride, size_t row_begin,
                       size_t row_end, SidePrefetch* side = nullptr);

// The ISA entry points, defined in kernels/cpu/x86/matmul_q4_k_avx512.cpp and _avx2.cpp.
void matmul_q4_k_groups_avx512(const RowGroupQ4_K* w, size_t n_groups, size_t n_blocks,
                               const BlockQ8_K* x, size_t n_tokens, float* out, size_t out_stride,
                               SidePrefetch* side);
void matmul_q4_k_q8_k_avx512(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, const BlockQ8_K* x,
                             size_t n_tokens, float* out, size_t out_stride);
void quantize_q8_k_avx512(const float* x, BlockQ8_K* y, size_t n);
void matmul_q4_k_groups_avx2(const RowGroupQ4_K* w, size_t n_groups, size_t n_blocks,
                             const BlockQ8_K* x, size_t n_tokens, float* out, size_t out_stride,
                             SidePrefetch* side);
void matmul_q4_k_q8_k_avx2(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, const BlockQ8_K* x,
                           size_t n_tokens, float* out, size_t out_stride);

}  // namespace sy::engine::kernels
