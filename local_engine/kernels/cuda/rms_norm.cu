// RMSNorm (cuda_api.h, rms_norm): one block per row, a block-wide sum of squares, then
// rms_factor (layer_math.h) as the CPU pass computes it.

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/layer_math.h"

namespace sy::engine::cuda {
namespace {

__global__ void rms_norm_kernel(const float* x, const float* weight, size_t dim, float eps,
                                float* out) {
  __shared__ float shared[32];
  const float* xr = x + size_t{blockIdx.x} * dim;
  float* o = out + size_t{blockIdx.x} * dim;
  float sum = 0;
  for (size_t i = threadIdx.x; i < dim; i += blockDim.x) sum += xr[i] * xr[i];
  // Every thread reads the whole sum before any writes: out may alias x.
  const float factor = rms_factor(block_sum(sum, shared), dim, eps);
  for (size_t i = threadIdx.x; i < dim; i += blockDim.x) o[i] = xr[i] * factor * weight[i];
}

}  // namespace

Status rms_norm(const float* d_x, const float* d_weight, size_t rows, size_t dim, float eps,
                float* d_out) {
  if (rows == 0) return {};
  if (Status s = check_grid(rows, "rms_norm"); !s.ok()) return s;
  rms_norm_kernel<<<static_cast<unsigned>(rows), 256>>>(d_x, d_weight, dim, eps, d_out);
  return check_launch("rms_norm");
}

}  // namespace sy::engine::cuda
