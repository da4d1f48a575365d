#pragma once
// The slice-of-heads attention kernels (CpuKernels::attention_scores_heads_f16 and
// attention_values_heads_f16) of every set, composed from that set's own single-head kernels,
// passed as template arguments so that they inline: each head's scores and sums are then the
// single-head kernel's bits by construction (its split contract), and only the order in which
// the cache is read changes: a few rows at a time, every head of the slice on them before the
// next few, i.e. in address order, which the hardware prefetchers stream.

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

// Rows a step takes, every head of the slice reading its part of the same rows before the next
// step. Narrow rows (kNarrowRowBytes or less: 3, 5 or 8 heads of 64) go in address order: one
// row a step for the scores, two for the values (each values step loads and stores the head's
// sums once; more than two rows a step let the reads run ahead of address order: a 1-thread
// read-pattern test at 576 positions, 3 heads: 1 or 2 rows 0.95-1.10 ms, 4 rows 1.27-1.44, a
// whole run 1.25; engine_attention_bench --isa avx2, 3 heads of group 3 with 76 MB of weights
// between layers: 1.0-1.1 ms a token against 1.6 with 16 rows a step). Wider rows take 16 rows
// a step: one row a step paid a kernel call and a sums load and store per head and row (the
// same bench, 32 heads of 64: 12.1 ms a token with 1 and 2 rows a step, 8.7 with 16).
inline constexpr size_t kNarrowRowBytes = 1024;
inline constexpr size_t kWideStepRows = 16;

inline size_t heads_step_rows(size_t n_heads, size_t head_dim, size_t narrow_rows) {
  return n_heads * head_dim * sizeof(uint16_t) <= kNarrowRowBytes ? narrow_rows : kWideStepRows;
}

template <AttentionScoresF16 Scores>
void attention_scores_heads(const uint16_t* keys, size_t row_stride, size_t n_rows, size_t n_heads,
                            const float* q, size_t group, size_t head_dim, float* scores,
                            size_t scores_stride) {
  const size_t step = heads_step_rows(n_heads, head_dim, 1);
  for (size_t t = 0; t < n_rows; t += step) {
    const size_t rows = std::min(step, n_rows - t);
    const uint16_t* row = keys + t * row_stride;
    for (size_t h = 0; h < n_heads; ++h) {
      Scores(row + h * head_dim, row_stride, rows, q + h * group * head_dim, group, head_dim,
             scores + h * group * scores_stride + t, scores_stride);
    }
  }
}

template <AttentionValuesF16 Values>
void attention_values_heads(const uint16_t* values, size_t row_stride, size_t n_rows,
                            size_t n_heads, const float* probs, size_t probs_stride, size_t group,
                            size_t head_dim, float* out, size_t out_stride) {
  const size_t step = heads_step_rows(n_heads, head_dim, 2);
  for (size_t t = 0; t < n_rows; t += step) {
    const size_t rows = std::min(step, n_rows - t);
    const uint16_t* row = values + t * row_stride;
    for (size_t h = 0; h < n_heads; ++h) {
      Values(row + h * head_dim, row_stride, rows, probs + h * group * probs_stride + t,
             probs_stride, group, head_dim, out + h * out_stride);
    }
  }
}

}  // namespace sy::engine::kernels
