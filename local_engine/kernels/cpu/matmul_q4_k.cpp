#include "kernels/cpu/matmul_q4_k.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace sy::engine::kernels {

void group_q4_k(const BlockQ4_K* rows, size_t n_rows, size_t n_blocks, RowGroupQ4_K* out) {
  static const BlockQ4_K kZero{};
  for (size_t b = 0; b < n_blocks; ++b) {
    RowGroupQ4_K& g = out[b];
    for (size_t i = 0; i < kGroupRows; ++i) {
      const BlockQ4_K& src = i < n_rows ? rows[i * n_blocks + b] : kZero;
      g.d[i] = src.d;
      g.dmin[i] = src.dmin;
      for (size_t k = 0; k < 3; ++k) std::memcpy(&g.scales[k][i], src.scales + 4 * k, 4);
      for (size_t run = 0; run < 32; ++run) std::memcpy(&g.qs[run][4 * i], src.qs + 4 * run, 4);
    }
  }
}

void ungroup_row_q4_k(const RowGroupQ4_K* group, size_t n_blocks, size_t i, BlockQ4_K* row) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const RowGroupQ4_K& g = group[b];
    BlockQ4_K& dst = row[b];
    dst.d = g.d[i];
    dst.dmin = g.dmin[i];
    for (size_t k = 0; k < 3; ++k) std::memcpy(dst.scales + 4 * k, &g.scales[k][i], 4);
    for (size_t run = 0; run < 32; ++run) std::memcpy(dst.qs + 4 * run, &g.qs[run][4 * i], 4);
  }
}

void matmul_q4_k_groups_by_rows(Q4KDot dot, const RowGroupQ4_K* w, size_t n_groups, size_t n_blocks,
                                const BlockQ8_K* x, size_t n_tokens, float* out,
                                size_t out_stride) {
  thread_local std::vector<BlockQ4_K> row;  // (n_blocks)
  row.resize(n_blocks);
  for (size_t g = 0; g < n_groups; ++g) {
    for (size_t i = 0; i < kGroupRows; ++i) {
      ungroup_row_q4_k(w + g * n_blocks, n_blocks, i, row.data());
      for (size_t t = 0; t < n_tokens; ++t) {
        out[t * out_stride + kGroupRows * g + i] = dot(row.data(), x + t * n_blocks, n_blocks);
      }
    }
  }
}

void matmul_q4_k_groups_generic(const RowGroupQ4_K* w, size_t n_groups, size_t n_blocks,
                                const BlockQ8_K* x, size_t n_tokens, float* out, size_t out_stride,
                                SidePrefetch* /*side: hints only, the oracle stays plain*/) {
  matmul_q4_k_groups_by_rows(generic_cpu_kernels().dot_q4_k_q8_k, w, n_groups, n_blocks, x,
                             n_tokens, out, out_stride);
}

void matmul_q4_k_rows_via_groups(Q4KGroupsKernel kernel, const BlockQ4_K* w, size_t n_rows,
                                 size_t n_blocks, const BlockQ8_K* x, size_t n_tokens, float* out,
                                 size_t out_stride) {
  thread_local std::vector<RowGroupQ4_K> group;  // (n_blocks)
  thread_local std::vector<float> part;          // (n_tokens, 16): a padded group's outputs
  group.resize(n_blocks);
  for (size_t r0 = 0; r0 < n_rows; r0 += kGroupRows) {
    const size_t n = std::min(kGroupRows, n_rows - r0);
    group_q4_k(w + r0 * n_blocks, n, n_blocks, group.data());
    if (n == kGroupRows) {
      kernel(group.data(), 1, n_blocks, x, n_tokens, out + r0, out_stride, nullptr);
      continue;
    }
    part.resize(n_tokens * kGroupRows);
    kernel(group.data(), 1, n_blocks, x, n_tokens, part.data(), kGroupRows, nullptr);
    for (size_t t = 0; t < n_tokens; ++t) {
      std::copy_n(part.data() + t * kGroupRows, n, out + t * out_stride + r0);
    }
  }
}

void grouped_rows_q4_k(const CpuKernels& k, const MatrixView& w, const BlockQ8_K* x,
                       size_t n_tokens, float* out, size_t out_stride, size_t row_begin,
                       size_t row_end, SidePrefetch* side) {
  const size_t blocks = w.cols / kQK;
  const size_t grouped_end = w.rows / kGroupRows * kGroupRows;
  const auto* groups = static_cast<const RowGroupQ4_K*>(w.data);  // group g at g * blocks
  size_t r = row_begin;
  const size_t group_end = std::min(row_end, grouped_end);
  while (r < group_end) {
    const size_t g = r / kGroupRows, lo = g * kGroupRows;
    if (r == lo && lo + kGroupRows <= group_end) {  // the run of whole groups from here
      const size_t n = (group_end - lo) / kGroupRows;
      k.matmul_q4_k_groups(groups + g * blocks, n, blocks, x, n_tokens, out + lo, out_stride, side);
      r = lo + n * kGroupRows;
      continue;
    }
    // A group the range cuts: all 16 rows into a scratch, then the rows asked for.
    const size_t hi = std::min(group_end, lo + kGroupRows);
    thread_local std::vector<float> part;  // (n_tokens, 16)
    part.resize(n_tokens * kGroupRows);
    k.matmul_q4_k_groups(groups + g * blocks, 1, blocks, x, n_tokens, part.data(), kGroupRows,
                         nullptr);
    for (size_t t = 0; t < n_tokens; ++t) {
      std::copy(part.data() + t * kGroupRows + (r - lo), part.data() + t * kGroupRows + (hi - lo),
                out + t * out_stride + r);
    }
    r = hi;
  }
  r = std::max(r, grouped_end);
  // The rows past the last group, row-major where a row-major matrix keeps them.
  const auto* rows = static_cast<const BlockQ4_K*>(w.data);
  for (; r < row_end; ++r) {
    for (size_t t = 0; t < n_tokens; ++t) {
      out[t * out_stride + r] = k.dot_q4_k_q8_k(rows + r * blocks, x + t * blocks, blocks);
    }
  }
}

}  // namespace sy::engine::kernels
