// The gated FFN activation (cuda_api.h, gated_ffn): SwiGLU, or GeGLU for Gemma (layer_math.h).

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/layer_math.h"

namespace sy::engine::cuda {
namespace {

__global__ void gated_kernel(float* gate, const float* up, size_t n, bool gelu) {
  const size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i < n) gate[i] = gated(gate[i], up[i], gelu);
}

}  // namespace

Status gated_ffn(float* d_gate, const float* d_up, size_t n, bool gelu) {
  if (n == 0) return {};
  if (Status s = check_grid(blocks_for(n, 256), "gated_ffn"); !s.ok()) return s;
  gated_kernel<<<blocks_for(n, 256), 256>>>(d_gate, d_up, n, gelu);
  return check_launch("gated_ffn");
}

}  // namespace sy::engine::cuda
