// Writes a step's keys and values into the paged F16 cache (cuda_api.h, store_kv): one thread
// per element, the cache address from kv_offset (attention_math.h).

#include "kernels/cuda/attention_math.h"
#include "kernels/cuda/cuda_check.h"

namespace sy::engine::cuda {
namespace {

__global__ void store_kv_kernel(PagedKv kv, size_t layer, StepRows rows, const float* k,
                                const float* v) {
  const size_t kv_width = kv.n_kv_heads * kv.head_dim;
  const size_t id = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (id >= rows.n * kv_width) return;
  const size_t r = id / kv_width, e = id % kv_width;
  const size_t at =
      kv_offset(rows.d_tables + rows.d_table_offsets[r], static_cast<size_t>(rows.d_positions[r]),
                kv.block_tokens, kv.n_layers, layer, 0, kv_width, 0, kv.head_dim) +
      e;
  kv.d_storage[at] = float_to_half(k[id]);
  // Values sit one (block_tokens, kv_width) slot after the keys of the same block and layer.
  kv.d_storage[at + kv.block_tokens * kv_width] = float_to_half(v[id]);
}

}  // namespace

Status store_kv(const PagedKv& kv, size_t layer, const StepRows& rows, const float* d_k,
                const float* d_v) {
  const size_t n = rows.n * kv.n_kv_heads * kv.head_dim;
  if (n == 0) return {};
  if (Status s = check_grid(blocks_for(n, 256), "store_kv"); !s.ok()) return s;
  store_kv_kernel<<<blocks_for(n, 256), 256>>>(kv, layer, rows, d_k, d_v);
  return check_launch("store_kv");
}

}  // namespace sy::engine::cuda
