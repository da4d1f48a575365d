#pragma once
// Matrix-vector product over weights as stored in the file (F32, F16, BF16, Q8_0, Q4_0, Q4_K,
// Q6_K), using a kernel set from select_cpu_kernels(). The activations are quantized once per
// call as the formats call for: to Q8_0 for Q8_0/Q4_0 weights, to Q8_K for Q4_K/Q6_K.
// Single-threaded: callers split rows across threads.

#include <cstddef>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "switchyard/local_engine/tensor_type.h"

namespace sy::engine::kernels {

// A matrix in place: `rows` rows of `cols` elements of `type`, row-major, or for Q8_0/Q4_0/Q4_K
// with `grouped` set: the first rows / 16 * 16 rows as row groups (RowGroupQ8_0 / RowGroupQ4_0
// / RowGroupQ4_K, cols / 32 or cols / 256 blocks per group, group g at the bytes of rows 16g..16g+15), the remaining rows
// row-major after them (where a row-major matrix keeps them). See row_groups.h.
struct MatrixView {
  TensorType type = TensorType::f32;
  const void* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;
  bool grouped = false;
};

// Reusable per-thread buffer for the quantized activations.
struct MatvecScratch {
  std::vector<BlockQ8_0> x_q8;
  std::vector<ActivationQ8> x_act;  // x_q8 as the row-group kernels read it
  std::vector<BlockQ8_K> x_q8k;
};

// out[r] = W[r, :] . x for r in [row_begin, row_end). Throws EngineError for an unsupported
// type or a width that does not fit the type's blocks (32, or 256 for K-quants).
void matvec(const CpuKernels& kernels, const MatrixView& w, const float* x, float* out,
            MatvecScratch& scratch, size_t row_begin, size_t row_end);

inline void matvec(const CpuKernels& kernels, const MatrixView& w, const float* x, float* out,
                   MatvecScratch& scratch) {
  matvec(kernels, w, x, out, scratch, 0, w.rows);
}

// For callers that split the rows of one product across threads: quantize_activations prepares
// `scratch` once (the quantized activations where w's type calls for them, nothing for float
// weights; EngineError for a width that does not fit the blocks), then every thread runs
// matvec_rows over its rows, only reading `scratch`, instead of each thread quantizing the same
// vector. matvec() is the two in one. matvec_rows throws EngineError for an unsupported type or
// a scratch not prepared for w. `side` (or nullptr): lines asked for beside grouped Q8_0, Q4_0
// or Q4_K weights (side_prefetch.h, row_groups.h's group_steps); other types ignore it.
void quantize_activations(const MatrixView& w, const float* x, MatvecScratch& scratch);
void matvec_rows(const CpuKernels& kernels, const MatrixView& w, const float* x,
                 const MatvecScratch& scratch, float* out, size_t row_begin, size_t row_end,
                 SidePrefetch* side = nullptr);

}  // namespace sy::engine::kernels
