#pragma once
// Row-grouped Q8_0 / Q4_0 matrices (RowGroupQ8_0 / RowGroupQ4_0 in cpu_kernels.h): the layout
// the row-group kernels read, made from a row-major matrix at load time. A group of 16 rows takes
// exactly the bytes of those rows, so regrouping keeps every offset past the groups: a matrix
// whose row count is not a multiple of 16 keeps its last rows row-major where they were.

#include <cstddef>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/matvec.h"
#include "switchyard/local_engine/tensor_type.h"

namespace sy::engine::kernels {

// Whether `type` has a grouped layout (Q8_0, Q4_0, Q4_K: RowGroupQ4_K, matmul_q4_k.h), and the
// bytes of one group of 16 rows of `cols` elements (cols a multiple of 32, of 256 for Q4_K).
bool groupable(TensorType type);
size_t group_bytes(TensorType type, size_t cols);

// n_groups groups (16 * n_groups rows) from row-major `src` to grouped `dst` of the same size;
// dst == src regroups in place, one group at a time through a group-sized buffer.
void regroup(TensorType type, size_t cols, const void* src, void* dst, size_t n_groups);

// The row-major bytes (cols / 32 blocks) of row i (0..15) of the group at `group`.
void ungroup_row(TensorType type, size_t cols, const void* group, size_t i, void* row);

// out[t * out_stride + r] = row r . token t for r in [row_begin, row_end) and t < n_tokens, w
// grouped (MatrixView::grouped), token t's activations at x_act + t * blocks and x_q8 + t *
// blocks. Whole groups go through the set's group kernel, a group the range cuts through a
// 16-row scratch, the row-major rows past the groups through the set's matvec: every output
// the contract's chain (cpu_kernels.h), so the split changes no bit. `side` (or nullptr) goes
// to the whole groups' kernel calls: group_steps(w, ...) steps for every group in the range.
void grouped_rows(const CpuKernels& k, const MatrixView& w, const ActivationQ8* x_act,
                  const BlockQ8_0* x_q8, size_t n_tokens, float* out, size_t out_stride,
                  size_t row_begin, size_t row_end, SidePrefetch* side = nullptr);

// The SidePrefetch steps grouped_rows (grouped_rows_q4_k for Q4_K) takes over rows
// [row_begin, row_end) of w: one per whole group's block (0 for w not grouped).
size_t group_steps(const MatrixView& w, size_t row_begin, size_t row_end);

}  // namespace sy::engine::kernels
