#pragma once
// Matrix-vector product over weights as stored in the file (F32, F16, Q8_0, Q4_0), using a
// kernel set from select_cpu_kernels(). For Q8_0/Q4_0 weights the activations are quantized to
// Q8_0, as the formats call for. matvec() is single-threaded; a caller that splits the rows
// across threads quantizes once (quantize_activations) and lets every thread read the result
// (matvec_rows), rather than each thread quantizing the same vector.

#include <cstddef>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "switchyard/local_engine/tensor_type.h"

namespace sy::engine::kernels {

// A row-major matrix in place: `rows` rows of `cols` elements of `type`.
struct MatrixView {
  TensorType type = TensorType::f32;
  const void* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;
};

// Reusable buffer for the quantized activations of one product.
struct MatvecScratch {
  std::vector<BlockQ8_0> x_q8;
};

// Prepares `scratch` for products of `w` with x (w.cols): the quantized activations where w's
// type calls for them, nothing for float weights. Throws EngineError for an unsupported type
// or a width that does not fit the type's blocks.
void quantize_activations(const MatrixView& w, const float* x, MatvecScratch& scratch);

// out[r] = W[r, :] . x for r in [row_begin, row_end), reading the activations that
// quantize_activations(w, x, scratch) left in `scratch` (only read: threads may share it).
// Throws EngineError for an unsupported type or a scratch not prepared for w.
void matvec_rows(const CpuKernels& kernels, const MatrixView& w, const float* x,
                 const MatvecScratch& scratch, float* out, size_t row_begin, size_t row_end);

// Both steps: out[r] = W[r, :] . x for r in [row_begin, row_end).
void matvec(const CpuKernels& kernels, const MatrixView& w, const float* x, float* out,
            MatvecScratch& scratch, size_t row_begin, size_t row_end);

inline void matvec(const CpuKernels& kernels, const MatrixView& w, const float* x, float* out,
                   MatvecScratch& scratch) {
  matvec(kernels, w, x, out, scratch, 0, w.rows);
}

}  // namespace sy::engine::kernels
