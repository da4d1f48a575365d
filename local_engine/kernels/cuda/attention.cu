// Attention over the paged KV cache (cuda_api.h, attention), decode and prefill alike (every row
// attends over its own sequence up to its own position), GQA by the head -> KV head map.
// Three passes: scores (one block per row x query head, threads over positions), softmax_rows
// (softmax.cu) over them, then the weighted values (threads over head dims). Scores of positions
// a row does not see are -inf and come out of the softmax as 0.

#include "kernels/cuda/attention_math.h"
#include "kernels/cuda/cuda_check.h"

namespace sy::engine::cuda {
namespace {

constexpr size_t kMaxHeadDim = 512;

__global__ void scores_kernel(PagedKv kv, size_t layer, StepRows rows, const float* q,
                              size_t n_heads, float scale, float softcap, size_t window,
                              size_t max_span, float* scores) {
  __shared__ float qs[kMaxHeadDim];
  const size_t r = blockIdx.x / n_heads, h = blockIdx.x % n_heads;
  const size_t group = n_heads / kv.n_kv_heads, kv_width = kv.n_kv_heads * kv.head_dim;
  const float* qh = q + (r * n_heads + h) * kv.head_dim;
  for (size_t i = threadIdx.x; i < kv.head_dim; i += blockDim.x) qs[i] = qh[i];
  __syncthreads();
  const size_t pos = static_cast<size_t>(rows.d_positions[r]);
  const size_t first = first_visible(pos, window);
  const uint32_t* table = rows.d_tables + rows.d_table_offsets[r];
  float* out = scores + size_t{blockIdx.x} * max_span;
  for (size_t t = threadIdx.x; t < max_span; t += blockDim.x) {
    float s = -INFINITY;
    if (t >= first && t <= pos) {
      const size_t at = kv_offset(table, t, kv.block_tokens, kv.n_layers, layer, 0, kv_width,
                                  h / group, kv.head_dim);
      s = attention_score(qs, kv.d_storage + at, kv.head_dim, scale, softcap);
    }
    out[t] = s;
  }
}

__global__ void values_kernel(PagedKv kv, size_t layer, StepRows rows, size_t n_heads,
                              size_t window, size_t max_span, const float* probs, float* out) {
  const size_t r = blockIdx.x / n_heads, h = blockIdx.x % n_heads;
  const size_t group = n_heads / kv.n_kv_heads, kv_width = kv.n_kv_heads * kv.head_dim;
  const size_t pos = static_cast<size_t>(rows.d_positions[r]);
  const uint32_t* table = rows.d_tables + rows.d_table_offsets[r];
  const float* p = probs + size_t{blockIdx.x} * max_span;
  float* o = out + (r * n_heads + h) * kv.head_dim;
  for (size_t d = threadIdx.x; d < kv.head_dim; d += blockDim.x) {
    o[d] = attention_value(kv.d_storage, table, kv.block_tokens, kv.n_layers, layer, kv_width,
                           h / group, kv.head_dim, p, first_visible(pos, window), pos, d);
  }
}

}  // namespace

Status attention(const PagedKv& kv, size_t layer, const StepRows& rows, const float* d_q,
                 size_t n_heads, float scale, float softcap, size_t window, size_t max_span,
                 float* d_scores, float* d_out) {
  if (rows.n == 0) return {};
  if (kv.head_dim > kMaxHeadDim) return {"CUDA attention: head_dim above 512"};
  if (kv.n_kv_heads == 0 || n_heads % kv.n_kv_heads != 0) {
    return {"CUDA attention: query heads are not a multiple of the KV heads"};
  }
  const size_t pairs = rows.n * n_heads;
  if (Status s = check_grid(pairs, "attention"); !s.ok()) return s;
  scores_kernel<<<static_cast<unsigned>(pairs), 128>>>(kv, layer, rows, d_q, n_heads, scale,
                                                       softcap, window, max_span, d_scores);
  if (Status s = check_launch("attention scores"); !s.ok()) return s;
  if (Status s = softmax_rows(d_scores, pairs, max_span); !s.ok()) return s;
  const unsigned threads = kv.head_dim < 128 ? 64 : 128;
  values_kernel<<<static_cast<unsigned>(pairs), threads>>>(kv, layer, rows, n_heads, window,
                                                           max_span, d_scores, d_out);
  return check_launch("attention values");
}

}  // namespace sy::engine::cuda
