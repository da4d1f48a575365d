// RoPE (cuda_api.h, rope): one thread per (row, head, rotated pair), rope_pair / rope_rotate of
// layer_math.h with the angle position * inv_freq as the CPU pass takes it.

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/layer_math.h"

namespace sy::engine::cuda {
namespace {

__global__ void rope_kernel(float* v, size_t rows, size_t n_heads, size_t head_dim, size_t half,
                            const int32_t* positions, const float* inv_freq, bool neox) {
  const size_t id = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (id >= rows * n_heads * half) return;
  const size_t i = id % half, head = (id / half) % n_heads, row = id / (half * n_heads);
  const float angle = static_cast<float>(positions[row]) * inv_freq[i];
  size_t a, b;
  rope_pair(i, half, neox, a, b);
  float* h = v + (row * n_heads + head) * head_dim;
  rope_rotate(h[a], h[b], cosf(angle), sinf(angle));
}

}  // namespace

Status rope(float* d_v, size_t rows, size_t n_heads, size_t head_dim, size_t rope_dim,
            const int32_t* d_positions, const float* d_inv_freq, bool neox) {
  const size_t half = rope_dim / 2, n = rows * n_heads * half;
  if (n == 0) return {};
  if (rope_dim > head_dim) return {"CUDA rope: rope_dim exceeds head_dim"};
  if (Status s = check_grid(blocks_for(n, 256), "rope"); !s.ok()) return s;
  rope_kernel<<<blocks_for(n, 256), 256>>>(d_v, rows, n_heads, head_dim, half, d_positions,
                                           d_inv_freq, neox);
  return check_launch("rope");
}

}  // namespace sy::engine::cuda
