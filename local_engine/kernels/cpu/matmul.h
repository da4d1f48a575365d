#pragma once
// Matrix x batch-of-vectors product for prompt processing: out[t][r] = W[r, :] . x[t] for T
// activation rows per pass over the weights. Each activation row is quantized once per call as
// matvec does (Q8_0 for Q8_0/Q4_0 weights, Q8_K for Q4_K/Q6_K), then a block of weight rows is
// dotted with every activation while both sit in cache, so the weights are read from memory
// once per batch instead of once per token: prefill becomes compute-bound.
// Every output is computed on the same quantized activation as matvec and under the same
// per-row contract (cpu_kernels.h: the set's dot, or for Q8_0 and Q4_0 its matvec or row-group
// kernels, which follow the dot's chain), so matmul's results equal T calls of matvec bit for
// bit.
//
// Use: prepare_batch (one thread), quantize_batch over token ranges, then matmul over row
// ranges (both may be split across threads; the ranges write disjoint memory).

#include <cstddef>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/matvec.h"

namespace sy::engine::kernels {

// The activations of one batch, as the weight type calls for.
struct ActivationBatch {
  const float* x = nullptr;  // (n, cols) row-major, used directly by float weight types
  size_t n = 0;
  size_t cols = 0;
  std::vector<BlockQ8_0> x_q8;            // (n, cols / 32) for Q8_0/Q4_0 weights
  std::vector<ActivationQ8> x_act;        // (n, cols / 32): x_q8 for the row-group kernels
  std::vector<BlockQ8_K> x_q8k;           // (n, cols / 256) for Q4_K/Q6_K weights
};

// Points `batch` at x (n, cols = w.cols) and sizes its buffers for w's type. Throws EngineError
// for an unsupported type or a width that does not fit the type's blocks.
void prepare_batch(const MatrixView& w, const float* x, size_t n, ActivationBatch& batch);

// Quantizes activation rows [begin, end) of a prepared batch (nothing to do for float types).
void quantize_batch(const MatrixView& w, ActivationBatch& batch, size_t begin, size_t end);

// out (batch.n, w.rows) row-major: out[t * w.rows + r] = W[r, :] . x[t] for r in
// [row_begin, row_end) and every t. The batch must be prepared and quantized for w. `side` (or
// nullptr): as for matvec_rows.
void matmul(const CpuKernels& kernels, const MatrixView& w, const ActivationBatch& batch,
            float* out, size_t row_begin, size_t row_end, SidePrefetch* side = nullptr);

// Single-threaded convenience: all three steps over every row.
inline void matmul(const CpuKernels& kernels, const MatrixView& w, const float* x, size_t n,
                   float* out, ActivationBatch& batch) {
  prepare_batch(w, x, n, batch);
  quantize_batch(w, batch, 0, n);
  matmul(kernels, w, batch, out, 0, w.rows);
}

}  // namespace sy::engine::kernels
