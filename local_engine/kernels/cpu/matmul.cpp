#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <string>

#include "kernels/cpu/matmul_q4_k.h"
#include "kernels/cpu/row_groups.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine::kernels {
namespace {

// Weight rows per block: 16 rows of a 576-wide Q8_0 matrix are ~10 KB, so the block and the
// activation row being dotted with it both stay in L1 while the block meets every activation.
constexpr size_t kRowBlock = 16;

size_t block_width(TensorType type) {
  switch (type) {
    case TensorType::f32:
    case TensorType::f16:
    case TensorType::bf16:
      return 1;
    case TensorType::q8_0:
    case TensorType::q4_0:
      return 32;
    case TensorType::q4_k:
    case TensorType::q6_k:
      return kQK;
    default:
      throw EngineError("matmul: type " + std::string(to_string(type)) + " is not supported");
  }
}

// Runs dot(row r, activation t) for the blocked loop; `Dot` sees the row and token indices.
template <class Dot>
void for_each_output(size_t n, size_t rows, float* out, size_t row_begin, size_t row_end, Dot dot) {
  for (size_t r0 = row_begin; r0 < row_end; r0 += kRowBlock) {
    const size_t r1 = std::min(r0 + kRowBlock, row_end);
    for (size_t t = 0; t < n; ++t) {
      float* o = out + t * rows;
      for (size_t r = r0; r < r1; ++r) o[r] = dot(r, t);
    }
  }
}

}  // namespace

void prepare_batch(const MatrixView& w, const float* x, size_t n, ActivationBatch& batch) {
  const size_t width = block_width(w.type);
  if (w.cols % width != 0) {
    throw EngineError("matmul: width " + std::to_string(w.cols) + " does not fit " +
                      std::string(to_string(w.type)) + " blocks of " + std::to_string(width));
  }
  batch.x = x;
  batch.n = n;
  batch.cols = w.cols;
  if (width == 32) {
    batch.x_q8.resize(n * (w.cols / 32));
    batch.x_act.resize(n * (w.cols / 32));
  }
  if (width == kQK) batch.x_q8k.resize(n * (w.cols / kQK));
}

void quantize_batch(const MatrixView& w, ActivationBatch& batch, size_t begin, size_t end) {
  const size_t width = block_width(w.type);
  const size_t blocks = batch.cols / width;
  const auto quantize = select_cpu_kernels().quantize_q8_0;
  for (size_t t = begin; t < end; ++t) {
    const float* x = batch.x + t * batch.cols;
    // The quantizer matvec uses (quantize_activations): the same bytes as quantize_row_q8_0.
    if (width == 32) {
      BlockQ8_0* q = batch.x_q8.data() + t * blocks;
      quantize(x, q, batch.cols);
      pack_activations_q8(q, blocks, batch.x_act.data() + t * blocks);
    }
    if (width == kQK) {
      select_cpu_kernels().quantize_q8_k(x, batch.x_q8k.data() + t * blocks, batch.cols);
    }
  }
}

void matmul(const CpuKernels& k, const MatrixView& w, const ActivationBatch& b, float* out,
            size_t row_begin, size_t row_end, SidePrefetch* side) {
  if (row_end > w.rows || row_begin > row_end) throw EngineError("matmul: rows out of range");
  if (b.cols != w.cols) throw EngineError("matmul: batch width does not match the weights");
  const auto* base = static_cast<const std::byte*>(w.data);
  const size_t n = b.n, cols = w.cols, rows = w.rows;
  switch (w.type) {
    case TensorType::f32: {
      const auto* wr = reinterpret_cast<const float*>(base);
      for_each_output(n, rows, out, row_begin, row_end, [&](size_t r, size_t t) {
        return k.dot_f32(wr + r * cols, b.x + t * cols, cols);
      });
      return;
    }
    case TensorType::f16: {
      const auto* wr = reinterpret_cast<const uint16_t*>(base);
      for_each_output(n, rows, out, row_begin, row_end, [&](size_t r, size_t t) {
        return k.dot_f16_f32(wr + r * cols, b.x + t * cols, cols);
      });
      return;
    }
    case TensorType::bf16: {
      const auto* wr = reinterpret_cast<const uint16_t*>(base);
      for_each_output(n, rows, out, row_begin, row_end, [&](size_t r, size_t t) {
        return k.dot_bf16_f32(wr + r * cols, b.x + t * cols, cols);
      });
      return;
    }
    case TensorType::q8_0:
    case TensorType::q4_0: {
      if (w.grouped) {
        grouped_rows(k, w, b.x_act.data(), b.x_q8.data(), n, out, rows, row_begin, row_end, side);
        return;
      }
      // Row-major: the set's matvec per token over blocks of rows that stay in cache while
      // every token passes (the same chain per output as the dots, cpu_kernels.h).
      const size_t blocks = cols / 32;
      for (size_t r0 = row_begin; r0 < row_end; r0 += kRowBlock) {
        const size_t r1 = std::min(r0 + kRowBlock, row_end);
        for (size_t t = 0; t < n; ++t) {
          const BlockQ8_0* xt = b.x_q8.data() + t * blocks;
          if (w.type == TensorType::q8_0) {
            k.matvec_q8_0_q8_0(reinterpret_cast<const BlockQ8_0*>(base) + r0 * blocks, r1 - r0,
                               xt, blocks, out + t * rows + r0);
          } else {
            k.matvec_q4_0_q8_0(reinterpret_cast<const BlockQ4_0*>(base) + r0 * blocks, r1 - r0,
                               xt, blocks, out + t * rows + r0);
          }
        }
      }
      return;
    }
    case TensorType::q4_k: {
      if (w.grouped) {
        grouped_rows_q4_k(k, w, b.x_q8k.data(), n, out, rows, row_begin, row_end, side);
        return;
      }
      const size_t blocks = cols / kQK;
      const auto* wr = reinterpret_cast<const BlockQ4_K*>(base);
      if (k.matmul_q4_k_q8_k != nullptr) {
        k.matmul_q4_k_q8_k(wr + row_begin * blocks, row_end - row_begin, blocks, b.x_q8k.data(), n,
                           out + row_begin, rows);
        return;
      }
      for_each_output(n, rows, out, row_begin, row_end, [&](size_t r, size_t t) {
        return k.dot_q4_k_q8_k(wr + r * blocks, b.x_q8k.data() + t * blocks, blocks);
      });
      return;
    }
    case TensorType::q6_k: {
      const size_t blocks = cols / kQK;
      const auto* wr = reinterpret_cast<const BlockQ6_K*>(base);
      for_each_output(n, rows, out, row_begin, row_end, [&](size_t r, size_t t) {
        return k.dot_q6_k_q8_k(wr + r * blocks, b.x_q8k.data() + t * blocks, blocks);
      });
      return;
    }
    default:
      throw EngineError("matmul: type " + std::string(to_string(w.type)) + " is not supported");
  }
}

}  // namespace sy::engine::kernels
