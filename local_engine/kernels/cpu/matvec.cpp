#include "kernels/cpu/matvec.h"

#include <string>

#include "kernels/cpu/matmul_q4_k.h"
#include "kernels/cpu/row_groups.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine::kernels {
namespace {

[[noreturn]] void throw_unsupported(TensorType type) {
  throw EngineError("matvec: type " + std::string(to_string(type)) + " is not supported");
}

void check_width(const MatrixView& w, size_t block) {
  if (w.cols % block != 0) {
    throw EngineError("matvec: width " + std::to_string(w.cols) + " does not fit " +
                      std::string(to_string(w.type)) + " blocks");
  }
}

}  // namespace

void quantize_activations(const MatrixView& w, const float* x, MatvecScratch& scratch) {
  switch (w.type) {
    case TensorType::q8_0:
    case TensorType::q4_0:
      check_width(w, 32);
      scratch.x_q8.resize(w.cols / 32);
      scratch.x_act.resize(w.cols / 32);
      // Byte for byte quantize_row_q8_0 on every set, so the choice cannot change a result.
      select_cpu_kernels().quantize_q8_0(x, scratch.x_q8.data(), w.cols);
      // Both forms always: matrices of either layout may share these activations (matvecs).
      pack_activations_q8(scratch.x_q8.data(), w.cols / 32, scratch.x_act.data());
      return;
    case TensorType::q4_k:
    case TensorType::q6_k:
      check_width(w, kQK);
      scratch.x_q8k.resize(w.cols / kQK);
      // Byte for byte quantize_row_q8_k on every set.
      select_cpu_kernels().quantize_q8_k(x, scratch.x_q8k.data(), w.cols);
      return;
    default:
      return;  // float weights read x as it is; matvec_rows rejects unsupported types
  }
}

void matvec(const CpuKernels& k, const MatrixView& w, const float* x, float* out,
            MatvecScratch& scratch, size_t row_begin, size_t row_end) {
  quantize_activations(w, x, scratch);
  matvec_rows(k, w, x, scratch, out, row_begin, row_end);
}

void matvec_rows(const CpuKernels& k, const MatrixView& w, const float* x,
                 const MatvecScratch& scratch, float* out, size_t row_begin, size_t row_end,
                 SidePrefetch* side) {
  if (row_end > w.rows || row_begin > row_end) throw EngineError("matvec: rows out of range");
  const auto* base = static_cast<const std::byte*>(w.data);
  switch (w.type) {
    case TensorType::f32: {
      const auto* rows = reinterpret_cast<const float*>(base);
      for (size_t r = row_begin; r < row_end; ++r) out[r] = k.dot_f32(rows + r * w.cols, x, w.cols);
      return;
    }
    case TensorType::f16: {
      const auto* rows = reinterpret_cast<const uint16_t*>(base);
      k.matvec_f16_f32(rows + row_begin * w.cols, row_end - row_begin, x, w.cols, out + row_begin);
      return;
    }
    case TensorType::q8_0:
    case TensorType::q4_0: {
      check_width(w, 32);
      const size_t blocks = w.cols / 32;
      if (scratch.x_q8.size() != blocks || scratch.x_act.size() != blocks) {
        throw EngineError("matvec: activations not quantized");
      }
      if (w.grouped) {
        grouped_rows(k, w, scratch.x_act.data(), scratch.x_q8.data(), 1, out, w.rows, row_begin,
                     row_end, side);
      } else if (w.type == TensorType::q8_0) {
        const auto* rows = reinterpret_cast<const BlockQ8_0*>(base);
        k.matvec_q8_0_q8_0(rows + row_begin * blocks, row_end - row_begin, scratch.x_q8.data(),
                           blocks, out + row_begin);
      } else {
        const auto* rows = reinterpret_cast<const BlockQ4_0*>(base);
        k.matvec_q4_0_q8_0(rows + row_begin * blocks, row_end - row_begin, scratch.x_q8.data(),
                           blocks, out + row_begin);
      }
      return;
    }
    case TensorType::bf16: {
      const auto* rows = reinterpret_cast<const uint16_t*>(base);
      k.matvec_bf16_f32(rows + row_begin * w.cols, row_end - row_begin, x, w.cols, out + row_begin);
      return;
    }
    case TensorType::q4_k:
    case TensorType::q6_k: {
      check_width(w, kQK);
      const size_t blocks = w.cols / kQK;
      if (scratch.x_q8k.size() != blocks) throw EngineError("matvec: activations not quantized");
      if (w.type == TensorType::q4_k && w.grouped) {
        grouped_rows_q4_k(k, w, scratch.x_q8k.data(), 1, out, w.rows, row_begin, row_end, side);
      } else if (w.type == TensorType::q4_k) {
        const auto* rows = reinterpret_cast<const BlockQ4_K*>(base);
        for (size_t r = row_begin; r < row_end; ++r) {
          out[r] = k.dot_q4_k_q8_k(rows + r * blocks, scratch.x_q8k.data(), blocks);
        }
      } else {
        const auto* rows = reinterpret_cast<const BlockQ6_K*>(base);
        for (size_t r = row_begin; r < row_end; ++r) {
          out[r] = k.dot_q6_k_q8_k(rows + r * blocks, scratch.x_q8k.data(), blocks);
        }
      }
      return;
    }
    default:
      throw_unsupported(w.type);
  }
}

}  // namespace sy::engine::kernels
