#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <string>

#include "switchyard/local_engine/engine_error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sy::engine::kernels {
namespace {

#if defined(__x86_64__)
// Only this tile gets the AVX-512 flags (the file itself stays x86-64); it runs only when the
// cpuid-selected set is the AVX-512 one.
#define SY_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

SY_AVX512 inline float tile_hsum256(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// One Q8_0 weight row against four Q8_0 activation rows: the weight block and its absolute
// value are loaded once for all four. Each sum follows the AVX-512 dot_q8_0_q8_0 step for step
// (even blocks into one accumulator, odd into another, the same horizontal sum), so the
// results equal it bit for bit.
SY_AVX512 void dot4_q8_0(const BlockQ8_0* w, const BlockQ8_0* const x[4], size_t n_blocks,
                         float out[4]) {
  __m256 acc[2][4];
  for (auto& a : acc) {
    for (auto& v : a) v = _mm256_setzero_ps();
  }
  for (size_t b = 0; b < n_blocks; ++b) {
    const size_t parity = b % 2;  // the odd tail block lands in acc[0], as there
    const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs));
    const __m256i aw = _mm256_sign_epi8(wq, wq);
    const float wd = _cvtsh_ss(w[b].d);
    for (int t = 0; t < 4; ++t) {
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].qs));
      const __m256i sx = _mm256_sign_epi8(xq, wq);
      const __m256 dot = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sx));
      const __m256 d = _mm256_set1_ps(wd * _cvtsh_ss(x[t][b].d));
      acc[parity][t] = _mm256_fmadd_ps(d, dot, acc[parity][t]);
    }
  }
  for (int t = 0; t < 4; ++t) out[t] = tile_hsum256(_mm256_add_ps(acc[0][t], acc[1][t]));
}

// Two weight rows against four activation rows: each activation block is loaded once for both
// rows as well. Same sums as dot4_q8_0 (32 YMM registers hold the 16 accumulators).
SY_AVX512 void dot2x4_q8_0(const BlockQ8_0* w0, const BlockQ8_0* w1, const BlockQ8_0* const x[4],
                           size_t n_blocks, float out0[4], float out1[4]) {
  __m256 acc[2][2][4];  // [parity][row][token]
  for (auto& p : acc) {
    for (auto& r : p) {
      for (auto& v : r) v = _mm256_setzero_ps();
    }
  }
  for (size_t b = 0; b < n_blocks; ++b) {
    const size_t parity = b % 2;
    const __m256i wq0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w0[b].qs));
    const __m256i wq1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w1[b].qs));
    const __m256i aw0 = _mm256_sign_epi8(wq0, wq0), aw1 = _mm256_sign_epi8(wq1, wq1);
    const float wd0 = _cvtsh_ss(w0[b].d), wd1 = _cvtsh_ss(w1[b].d);
    for (int t = 0; t < 4; ++t) {
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t][b].qs));
      const float xd = _cvtsh_ss(x[t][b].d);
      const __m256 dot0 = _mm256_cvtepi32_ps(
          _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw0, _mm256_sign_epi8(xq, wq0)));
      const __m256 dot1 = _mm256_cvtepi32_ps(
          _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw1, _mm256_sign_epi8(xq, wq1)));
      acc[parity][0][t] = _mm256_fmadd_ps(_mm256_set1_ps(wd0 * xd), dot0, acc[parity][0][t]);
      acc[parity][1][t] = _mm256_fmadd_ps(_mm256_set1_ps(wd1 * xd), dot1, acc[parity][1][t]);
    }
  }
  for (int t = 0; t < 4; ++t) {
    out0[t] = tile_hsum256(_mm256_add_ps(acc[0][0][t], acc[1][0][t]));
    out1[t] = tile_hsum256(_mm256_add_ps(acc[0][1][t], acc[1][1][t]));
  }
}
#endif

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
  if (width == 32) batch.x_q8.resize(n * (w.cols / 32));
  if (width == kQK) batch.x_q8k.resize(n * (w.cols / kQK));
}

void quantize_batch(const MatrixView& w, ActivationBatch& batch, size_t begin, size_t end) {
  const size_t width = block_width(w.type);
  const size_t blocks = batch.cols / width;
  const auto quantize = select_cpu_kernels().quantize_q8_0;
  for (size_t t = begin; t < end; ++t) {
    const float* x = batch.x + t * batch.cols;
    // The quantizer matvec uses (quantize_activations): the same bytes as quantize_row_q8_0.
    if (width == 32) quantize(x, batch.x_q8.data() + t * blocks, batch.cols);
    if (width == kQK) quantize_row_q8_k(x, batch.x_q8k.data() + t * blocks, batch.cols);
  }
}

void matmul(const CpuKernels& k, const MatrixView& w, const ActivationBatch& b, float* out,
            size_t row_begin, size_t row_end) {
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
    case TensorType::q8_0: {
      const size_t blocks = cols / 32;
      const auto* wr = reinterpret_cast<const BlockQ8_0*>(base);
#if defined(__x86_64__)
      if (k.isa == "avx512") {
        // Row blocks as for_each_output, four tokens at a time through the tile.
        for (size_t r0 = row_begin; r0 < row_end; r0 += kRowBlock) {
          const size_t r1 = std::min(r0 + kRowBlock, row_end);
          size_t t = 0;
          for (; t + 4 <= n; t += 4) {
            const BlockQ8_0* x[4];
            for (int j = 0; j < 4; ++j) x[j] = b.x_q8.data() + (t + j) * blocks;
            size_t r = r0;
            for (; r + 2 <= r1; r += 2) {
              float o0[4], o1[4];
              dot2x4_q8_0(wr + r * blocks, wr + (r + 1) * blocks, x, blocks, o0, o1);
              for (int j = 0; j < 4; ++j) {
                out[(t + j) * rows + r] = o0[j];
                out[(t + j) * rows + r + 1] = o1[j];
              }
            }
            for (; r < r1; ++r) {
              float o[4];
              dot4_q8_0(wr + r * blocks, x, blocks, o);
              for (int j = 0; j < 4; ++j) out[(t + j) * rows + r] = o[j];
            }
          }
          for (; t < n; ++t) {
            for (size_t r = r0; r < r1; ++r) {
              out[t * rows + r] =
                  k.dot_q8_0_q8_0(wr + r * blocks, b.x_q8.data() + t * blocks, blocks);
            }
          }
        }
        return;
      }
#endif
      for_each_output(n, rows, out, row_begin, row_end, [&](size_t r, size_t t) {
        return k.dot_q8_0_q8_0(wr + r * blocks, b.x_q8.data() + t * blocks, blocks);
      });
      return;
    }
    case TensorType::q4_0: {
      const size_t blocks = cols / 32;
      const auto* wr = reinterpret_cast<const BlockQ4_0*>(base);
      for_each_output(n, rows, out, row_begin, row_end, [&](size_t r, size_t t) {
        return k.dot_q4_0_q8_0(wr + r * blocks, b.x_q8.data() + t * blocks, blocks);
      });
      return;
    }
    case TensorType::q4_k: {
      const size_t blocks = cols / kQK;
      const auto* wr = reinterpret_cast<const BlockQ4_K*>(base);
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
