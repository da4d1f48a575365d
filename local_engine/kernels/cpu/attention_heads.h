#pragma once
// The slice-of-heads attention kernels (CpuKernels::attention_scores_heads_f16 and
// attention_values_heads_f16) of every set, composed from that set's own single-head kernels,
// passed as template arguments so that they inline: each head's scores and sums are then the
// single-head kernel's bits by construction (its split contract), and only the order in which
// the cache is read changes: row by row, every head of the slice on a row before the next row,
// i.e. in address order, which the hardware prefetchers stream.

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace sy::engine::kernels {

using AttentionScoresF16 = void (*)(const uint16_t* keys, size_t row_stride, size_t n_rows,
                                    const float* q, size_t n_queries, size_t head_dim,
                                    float* scores, size_t scores_stride);
using AttentionValuesF16 = void (*)(const uint16_t* values, size_t row_stride, size_t n_rows,
                                    const float* probs, size_t probs_stride, size_t n_queries,
                                    size_t head_dim, float* out);

// Rows a values step takes per head: each step loads and stores the head's sums once, so one
// row a step would double that traffic, and more than two rows a step let the reads run ahead
// of address order again (a 1-thread read-pattern test at 576 positions, 3 heads: 1 or 2 rows
// 0.95-1.10 ms, 4 rows 1.27-1.44, a whole run 1.25).
inline constexpr size_t kValuesHeadRows = 2;

template <AttentionScoresF16 Scores>
void attention_scores_heads(const uint16_t* keys, size_t row_stride, size_t n_rows, size_t n_heads,
                            const float* q, size_t group, size_t head_dim, float* scores,
                            size_t scores_stride) {
  for (size_t t = 0; t < n_rows; ++t) {
    const uint16_t* row = keys + t * row_stride;
    for (size_t h = 0; h < n_heads; ++h) {
      Scores(row + h * head_dim, row_stride, 1, q + h * group * head_dim, group, head_dim,
             scores + h * group * scores_stride + t, scores_stride);
    }
  }
}

template <AttentionValuesF16 Values>
void attention_values_heads(const uint16_t* values, size_t row_stride, size_t n_rows,
                            size_t n_heads, const float* probs, size_t probs_stride, size_t group,
                            size_t head_dim, float* out, size_t out_stride) {
  for (size_t t = 0; t < n_rows; t += kValuesHeadRows) {
    const size_t rows = std::min(kValuesHeadRows, n_rows - t);
    const uint16_t* row = values + t * row_stride;
    for (size_t h = 0; h < n_heads; ++h) {
      Values(row + h * head_dim, row_stride, rows, probs + h * group * probs_stride + t,
             probs_stride, group, head_dim, out + h * out_stride);
    }
  }
}

}  // namespace sy::engine::kernels
