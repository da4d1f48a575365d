// Dequantize + matrix products (cuda_api.h, matmul): the weights stay in their GGUF format on
// the device and are dequantized as they are read (dequant_math.h); activations are F32.

#include "kernels/cuda/cuda_check.h"

namespace sy::engine::cuda {
namespace {

constexpr int kMaxWarpTokens = 8;  // tokens one warp_rows pass carries in registers
constexpr int kWarpsPerBlock = 8;

// One warp per weight row: the lanes stride over the row (row_dot_lane, host-tested), so each
// weight element is read once for up to NT tokens, then a butterfly sum.
template <WeightType T, int NT>
__global__ void matmul_warp_rows(const uint8_t* w, size_t rows, size_t cols, const float* x,
                                 float* out) {
  const size_t row = size_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // whole warps leave together: the shuffles below stay full
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
  row_dot_lane<T>(w + row * row_bytes(T, cols), cols, x, cols, NT, lane, acc);
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const float sum = warp_sum(acc[t]);
    if (lane == 0) out[static_cast<size_t>(t) * rows + row] = sum;
  }
}

// Tiles of 64 rows x 64 tokens, 32 deep, staged in shared memory (weights dequantized on the
// way in); 256 threads, each 4 rows x 4 tokens.
constexpr int kTileRows = 64, kTileTokens = 64, kTileDepth = 32;

template <WeightType T>
__global__ void matmul_tiled(const uint8_t* w, size_t rows, size_t cols, const float* x,
                             size_t n_tokens, float* out) {
  __shared__ float ws[kTileDepth][kTileRows + 1];
  __shared__ float xs[kTileDepth][kTileTokens + 1];
  const size_t row0 = size_t{blockIdx.x} * kTileRows, tok0 = size_t{blockIdx.y} * kTileTokens;
  const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
  const size_t rb = row_bytes(T, cols);
  float acc[4][4] = {};
  for (size_t k0 = 0; k0 < cols; k0 += kTileDepth) {
    for (int i = tid; i < kTileRows * kTileDepth; i += 256) {
      const int r = i / kTileDepth, kk = i % kTileDepth;
      const size_t row = row0 + r, k = k0 + kk;
      ws[kk][r] = row < rows && k < cols ? dequant_at<T>(w + row * rb, k) : 0.0f;
    }
    for (int i = tid; i < kTileTokens * kTileDepth; i += 256) {
      const int t = i / kTileDepth, kk = i % kTileDepth;
      const size_t tok = tok0 + t, k = k0 + kk;
      xs[kk][t] = tok < n_tokens && k < cols ? x[tok * cols + k] : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < kTileDepth; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = ws[kk][ty * 4 + i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = xs[kk][tx * 4 + j];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const size_t row = row0 + ty * 4 + i, tok = tok0 + tx * 4 + j;
      if (row < rows && tok < n_tokens) out[tok * rows + row] = acc[i][j];
    }
  }
}

template <WeightType T, int NT>
void launch_warp_rows(const uint8_t* w, size_t rows, size_t cols, const float* x, float* out) {
  matmul_warp_rows<T, NT>
      <<<blocks_for(rows, kWarpsPerBlock), kWarpsPerBlock * 32>>>(w, rows, cols, x, out);
}

template <WeightType T>
Status run(const uint8_t* w, size_t rows, size_t cols, const float* x, size_t n_tokens, float* out,
           bool tiled) {
  if (tiled) {
    const size_t gx = (rows + kTileRows - 1) / kTileRows;
    const size_t gy = (n_tokens + kTileTokens - 1) / kTileTokens;
    if (Status s = check_grid(gx, "matmul"); !s.ok()) return s;
    if (gy > 65535) return {"CUDA matmul: too many tokens for one launch"};
    matmul_tiled<T><<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), 256>>>(
        w, rows, cols, x, n_tokens, out);
    return check_launch("matmul (tiled)");
  }
  if (Status s = check_grid(blocks_for(rows, kWarpsPerBlock), "matmul"); !s.ok()) return s;
  // Chunks of up to 8 tokens, each one pass over the weights.
  for (size_t t0 = 0; t0 < n_tokens; t0 += kMaxWarpTokens) {
    const size_t nt = n_tokens - t0 < size_t{kMaxWarpTokens} ? n_tokens - t0 : kMaxWarpTokens;
    const float* xc = x + t0 * cols;
    float* oc = out + t0 * rows;
    switch (nt) {
      case 1:
        launch_warp_rows<T, 1>(w, rows, cols, xc, oc);
        break;
      case 2:
        launch_warp_rows<T, 2>(w, rows, cols, xc, oc);
        break;
      case 3:
        launch_warp_rows<T, 3>(w, rows, cols, xc, oc);
        break;
      case 4:
        launch_warp_rows<T, 4>(w, rows, cols, xc, oc);
        break;
      case 5:
        launch_warp_rows<T, 5>(w, rows, cols, xc, oc);
        break;
      case 6:
        launch_warp_rows<T, 6>(w, rows, cols, xc, oc);
        break;
      case 7:
        launch_warp_rows<T, 7>(w, rows, cols, xc, oc);
        break;
      default:
        launch_warp_rows<T, 8>(w, rows, cols, xc, oc);
        break;
    }
    if (Status s = check_launch("matmul (warp rows)"); !s.ok()) return s;
  }
  return {};
}

}  // namespace

Status matmul(WeightType t, const void* d_w, size_t rows, size_t cols, const float* d_x,
              size_t n_tokens, float* d_out, MatmulKernel kernel) {
  if (rows == 0 || n_tokens == 0) return {};
  if (cols % static_cast<size_t>(block_elements(t)) != 0) {
    return {"CUDA matmul: width " + std::to_string(cols) + " does not fit the weight blocks"};
  }
  const bool tiled = kernel == MatmulKernel::tiled ||
                     (kernel == MatmulKernel::automatic && n_tokens > size_t{kMaxWarpTokens});
  const auto* w = static_cast<const uint8_t*>(d_w);
  switch (t) {
    case WeightType::f32:
      return run<WeightType::f32>(w, rows, cols, d_x, n_tokens, d_out, tiled);
    case WeightType::f16:
      return run<WeightType::f16>(w, rows, cols, d_x, n_tokens, d_out, tiled);
    case WeightType::bf16:
      return run<WeightType::bf16>(w, rows, cols, d_x, n_tokens, d_out, tiled);
    case WeightType::q8_0:
      return run<WeightType::q8_0>(w, rows, cols, d_x, n_tokens, d_out, tiled);
    case WeightType::q4_0:
      return run<WeightType::q4_0>(w, rows, cols, d_x, n_tokens, d_out, tiled);
    case WeightType::q4_k:
      return run<WeightType::q4_k>(w, rows, cols, d_x, n_tokens, d_out, tiled);
    case WeightType::q6_k:
      return run<WeightType::q6_k>(w, rows, cols, d_x, n_tokens, d_out, tiled);
  }
  return {"CUDA matmul: unknown weight type"};
}

}  // namespace sy::engine::cuda
