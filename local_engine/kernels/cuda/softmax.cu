// Row softmax (cuda_api.h, softmax_rows): one block per row, block max then block sum; -inf
// entries (masked positions) come out 0 as exp(-inf) does.

#include "kernels/cuda/cuda_check.h"

namespace sy::engine::cuda {
namespace {

__global__ void softmax_kernel(float* x, size_t n) {
  __shared__ float shared[32];
  float* r = x + size_t{blockIdx.x} * n;
  float max = -INFINITY;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) max = fmaxf(max, r[i]);
  max = block_max(max, shared);
  float sum = 0;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float e = expf(r[i] - max);
    r[i] = e;
    sum += e;
  }
  const float inv = 1.0f / block_sum(sum, shared);
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) r[i] *= inv;
}

}  // namespace

Status softmax_rows(float* d_x, size_t rows, size_t n) {
  if (rows == 0 || n == 0) return {};
  if (Status s = check_grid(rows, "softmax"); !s.ok()) return s;
  softmax_kernel<<<static_cast<unsigned>(rows), 256>>>(d_x, n);
  return check_launch("softmax");
}

}  // namespace sy::engine::cuda
