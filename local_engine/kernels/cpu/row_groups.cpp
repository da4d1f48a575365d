#include "kernels/cpu/row_groups.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/matmul_q4_k.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine::kernels {
namespace {

// Group g of row-major rows (16 rows of `blocks` blocks at `rows`) -> one group's blocks.
void group_q8_0(const BlockQ8_0* rows, size_t blocks, RowGroupQ8_0* out) {
  for (size_t b = 0; b < blocks; ++b) {
    RowGroupQ8_0& g = out[b];
    for (size_t i = 0; i < kGroupRows; ++i) {
      const BlockQ8_0& src = rows[i * blocks + b];
      g.d[i] = src.d;
      for (size_t e = 0; e < 32; ++e) {
        g.qs[e / 4][4 * i + e % 4] = static_cast<uint8_t>(src.qs[e]) ^ 0x80;
      }
    }
  }
}

void group_q4_0(const BlockQ4_0* rows, size_t blocks, RowGroupQ4_0* out) {
  for (size_t b = 0; b < blocks; ++b) {
    RowGroupQ4_0& g = out[b];
    for (size_t i = 0; i < kGroupRows; ++i) {
      const BlockQ4_0& src = rows[i * blocks + b];
      g.d[i] = src.d;
      for (size_t e = 0; e < 16; ++e) g.qs[e / 4][4 * i + e % 4] = src.qs[e];
    }
  }
}

}  // namespace

bool groupable(TensorType type) {
  return type == TensorType::q8_0 || type == TensorType::q4_0 || type == TensorType::q4_k;
}

size_t group_bytes(TensorType type, size_t cols) {
  if (type == TensorType::q4_k && cols % kQK == 0) return cols / kQK * sizeof(RowGroupQ4_K);
  if (!groupable(type) || type == TensorType::q4_k || cols % 32 != 0) {
    throw EngineError("row groups: type " + std::string(to_string(type)) + " width " +
                      std::to_string(cols) + " has no grouped layout");
  }
  return cols / 32 * (type == TensorType::q8_0 ? sizeof(RowGroupQ8_0) : sizeof(RowGroupQ4_0));
}

void regroup(TensorType type, size_t cols, const void* src, void* dst, size_t n_groups) {
  const size_t bytes = group_bytes(type, cols), blocks = cols / 32;
  std::vector<std::byte> rows(bytes);  // (16, blocks) blocks: the group's rows, row-major
  for (size_t g = 0; g < n_groups; ++g) {
    std::memcpy(rows.data(), static_cast<const std::byte*>(src) + g * bytes, bytes);
    std::byte* out = static_cast<std::byte*>(dst) + g * bytes;
    if (type == TensorType::q4_k) {
      group_q4_k(reinterpret_cast<const BlockQ4_K*>(rows.data()), kGroupRows, cols / kQK,
                 reinterpret_cast<RowGroupQ4_K*>(out));
    } else if (type == TensorType::q8_0) {
      group_q8_0(reinterpret_cast<const BlockQ8_0*>(rows.data()), blocks,
                 reinterpret_cast<RowGroupQ8_0*>(out));
    } else {
      group_q4_0(reinterpret_cast<const BlockQ4_0*>(rows.data()), blocks,
                 reinterpret_cast<RowGroupQ4_0*>(out));
    }
  }
}

void ungroup_row(TensorType type, size_t cols, const void* group, size_t i, void* row) {
  const size_t blocks = cols / 32;
  if (type == TensorType::q8_0) {
    const auto* g = static_cast<const RowGroupQ8_0*>(group);
    auto* out = static_cast<BlockQ8_0*>(row);
    for (size_t b = 0; b < blocks; ++b) {
      out[b].d = g[b].d[i];
      for (size_t e = 0; e < 32; ++e) {
        out[b].qs[e] = static_cast<int8_t>(g[b].qs[e / 4][4 * i + e % 4] ^ 0x80);
      }
    }
  } else if (type == TensorType::q4_0) {
    const auto* g = static_cast<const RowGroupQ4_0*>(group);
    auto* out = static_cast<BlockQ4_0*>(row);
    for (size_t b = 0; b < blocks; ++b) {
      out[b].d = g[b].d[i];
      for (size_t e = 0; e < 16; ++e) out[b].qs[e] = g[b].qs[e / 4][4 * i + e % 4];
    }
  } else if (type == TensorType::q4_k && cols % kQK == 0) {
    ungroup_row_q4_k(static_cast<const RowGroupQ4_K*>(group), cols / kQK, i,
                     static_cast<BlockQ4_K*>(row));
  } else {
    group_bytes(type, cols);  // throws
  }
}

void grouped_rows(const CpuKernels& k, const MatrixView& w, const ActivationQ8* x_act,
                  const BlockQ8_0* x_q8, size_t n_tokens, float* out, size_t out_stride,
                  size_t row_begin, size_t row_end, SidePrefetch* side) {
  const size_t blocks = w.cols / 32, bytes = group_bytes(w.type, w.cols);
  const size_t grouped_end = w.rows / kGroupRows * kGroupRows;
  const auto* base = static_cast<const std::byte*>(w.data);
  // Groups [g, g + n) x tokens [t0, t0 + nt) through the set's group kernel.
  auto groups = [&](size_t g, size_t n, size_t t0, size_t nt, float* o, size_t o_stride,
                    SidePrefetch* s) {
    if (w.type == TensorType::q8_0) {
      k.matmul_q8_0_groups(reinterpret_cast<const RowGroupQ8_0*>(base + g * bytes), n, blocks,
                           x_act + t0 * blocks, nt, o, o_stride, s);
    } else {
      k.matmul_q4_0_groups(reinterpret_cast<const RowGroupQ4_0*>(base + g * bytes), n, blocks,
                           x_act + t0 * blocks, nt, o, o_stride, s);
    }
  };
  size_t r = row_begin;
  const size_t group_end = std::min(row_end, grouped_end);
  while (r < group_end) {
    const size_t g = r / kGroupRows, lo = g * kGroupRows;
    if (r == lo && lo + kGroupRows <= group_end) {  // the run of whole groups from here
      const size_t n = (group_end - lo) / kGroupRows;
      groups(g, n, 0, n_tokens, out + lo, out_stride, side);
      r = lo + n * kGroupRows;
      continue;
    }
    // A group the range cuts: all 16 rows into a scratch, one token at a time.
    const size_t hi = std::min(group_end, lo + kGroupRows);
    float scratch[kGroupRows];
    for (size_t t = 0; t < n_tokens; ++t) {
      groups(g, 1, t, 1, scratch, kGroupRows, nullptr);
      std::copy(scratch + (r - lo), scratch + (hi - lo), out + t * out_stride + r);
    }
    r = hi;
  }
  r = std::max(r, grouped_end);
  if (r >= row_end) return;
  for (size_t t = 0; t < n_tokens; ++t) {
    const BlockQ8_0* xt = x_q8 + t * blocks;
    float* o = out + t * out_stride + r;
    if (w.type == TensorType::q8_0) {
      k.matvec_q8_0_q8_0(reinterpret_cast<const BlockQ8_0*>(base) + r * blocks, row_end - r, xt,
                         blocks, o);
    } else {
      k.matvec_q4_0_q8_0(reinterpret_cast<const BlockQ4_0*>(base) + r * blocks, row_end - r, xt,
                         blocks, o);
    }
  }
}

size_t group_steps(const MatrixView& w, size_t row_begin, size_t row_end) {
  if (!w.grouped || !groupable(w.type)) return 0;
  const size_t grouped_end = w.rows / kGroupRows * kGroupRows;
  const size_t first = (row_begin + kGroupRows - 1) / kGroupRows;
  const size_t last = std::min(row_end, grouped_end) / kGroupRows;
  return last > first ? (last - first) * (w.cols / (w.type == TensorType::q4_k ? kQK : 32)) : 0;
}

}  // namespace sy::engine::kernels
