#pragma once
// For the .cu files only: CUDA runtime results to Status, and the launch geometry helpers.

#include <cuda_runtime.h>

#include <string>

#include "kernels/cuda/cuda_api.h"

namespace sy::engine::cuda {

inline Status check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return {};
  return {std::string("CUDA ") + what + ": " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) +
          ")"};
}

// After a <<<...>>> launch: a bad configuration or an earlier asynchronous fault.
inline Status check_launch(const char* what) { return check(cudaGetLastError(), what); }

inline unsigned blocks_for(size_t n, unsigned threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

// Grids are at most 2^31 - 1 blocks in x and 65535 in y/z; every op checks its sizes first.
inline Status check_grid(size_t blocks, const char* what) {
  if (blocks == 0 || blocks > 0x7FFFFFFFu) {
    return {std::string("CUDA ") + what + ": " + std::to_string(blocks) +
            " blocks is outside the launchable range"};
  }
  return {};
}

// A warp's sum, every lane ending with it (the order warp_tree_sum reproduces on the host).
__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xFFFFFFFFu, v, offset);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(0xFFFFFFFFu, v, offset));
  return v;
}

// A block's sum or max (blockDim.x a multiple of 32, at most 1024), every thread ending with it.
// `shared` holds 32 floats.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_sum(v);
  __syncthreads();  // shared may still be read by a previous reduction
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x / 32) ? shared[lane] : 0.0f;
  return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x / 32) ? shared[lane] : -INFINITY;
  return warp_max(v);
}

}  // namespace sy::engine::cuda
