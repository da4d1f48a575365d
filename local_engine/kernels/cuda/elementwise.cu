// Residual adds, biases and the final soft-cap (cuda_api.h): one thread per element.

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/layer_math.h"

namespace sy::engine::cuda {
namespace {

__global__ void add_kernel(float* x, const float* y, size_t n) {
  const size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i < n) x[i] += y[i];
}

__global__ void add_bias_kernel(float* x, const float* bias, size_t n, size_t width) {
  const size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i < n) x[i] += bias[i % width];
}

__global__ void soft_cap_kernel(float* x, size_t n, float cap) {
  const size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i < n) x[i] = soft_cap(x[i], cap);
}

}  // namespace

Status add(float* d_x, const float* d_y, size_t n) {
  if (n == 0) return {};
  if (Status s = check_grid(blocks_for(n, 256), "add"); !s.ok()) return s;
  add_kernel<<<blocks_for(n, 256), 256>>>(d_x, d_y, n);
  return check_launch("add");
}

Status add_bias(float* d_x, const float* d_bias, size_t rows, size_t width) {
  const size_t n = rows * width;
  if (n == 0) return {};
  if (Status s = check_grid(blocks_for(n, 256), "add_bias"); !s.ok()) return s;
  add_bias_kernel<<<blocks_for(n, 256), 256>>>(d_x, d_bias, n, width);
  return check_launch("add_bias");
}

Status soft_cap(float* d_x, size_t n, float cap) {
  if (n == 0 || cap <= 0) return {};
  if (Status s = check_grid(blocks_for(n, 256), "soft_cap"); !s.ok()) return s;
  soft_cap_kernel<<<blocks_for(n, 256), 256>>>(d_x, n, cap);
  return check_launch("soft_cap");
}

}  // namespace sy::engine::cuda
