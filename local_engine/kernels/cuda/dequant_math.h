#pragma once
// Weight formats the CUDA path reads, with ggml's block layouts bit for bit (the same layouts as
// kernels/cpu/cpu_kernels.h describes), and the element-wise dequantization the kernels use:
// dequant_at<T>(row, k) is element k of a row stored in format T. On the host it equals
// kernels::dequantize() bit for bit (tested); the device may fuse a multiply-add, within one
// rounding of it.
//
// The GPU path keeps activations in F32 and dequantizes weights on the fly, where the CPU path
// quantizes activations to Q8_0/Q8_K first: the two agree within the activation quantization's
// bound (tests state it).

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/half_math.h"

namespace sy::engine::cuda {

enum class WeightType : int { f32, f16, bf16, q8_0, q4_0, q4_k, q6_k };

// Elements per block and bytes per block of each format.
SY_HD constexpr int block_elements(WeightType t) {
  if (t == WeightType::q4_k || t == WeightType::q6_k) return 256;
  return t == WeightType::q8_0 || t == WeightType::q4_0 ? 32 : 1;
}
SY_HD constexpr int block_bytes(WeightType t) {
  switch (t) {
    case WeightType::f32:
      return 4;
    case WeightType::f16:
      return 2;
    case WeightType::bf16:
      return 2;
    case WeightType::q8_0:
      return 34;
    case WeightType::q4_0:
      return 18;
    case WeightType::q4_k:
      return 144;
    case WeightType::q6_k:
      return 210;
  }
  return 0;
}
// Bytes of one row of `cols` elements (cols a multiple of the block size).
SY_HD constexpr size_t row_bytes(WeightType t, size_t cols) {
  return cols / static_cast<size_t>(block_elements(t)) * static_cast<size_t>(block_bytes(t));
}

SY_HD uint16_t load_u16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (uint16_t{p[1]} << 8));
}

// Q4_K: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes (layout in
// kernels/cpu/cpu_kernels.h, BlockQ4_K).
SY_HD void q4_k_scale_min(const uint8_t* scales, int j, int& scale, int& min) {
  if (j < 4) {
    scale = scales[j] & 63;
    min = scales[j + 4] & 63;
  } else {
    scale = (scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4);
    min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

// Element j (0..31) of a Q8_0 block: d * q.
SY_HD float dequant_q8_0(const uint8_t* block, int j) {
  return half_to_float(load_u16(block)) * static_cast<float>(static_cast<int8_t>(block[2 + j]));
}

// Element j (0..31) of a Q4_0 block: d * (q - 8); elements 0..15 in the low nibbles, 16..31 in
// the high ones.
SY_HD float dequant_q4_0(const uint8_t* block, int j) {
  const uint8_t byte = block[2 + (j & 15)];
  const int q = j < 16 ? (byte & 0x0F) : (byte >> 4);
  return half_to_float(load_u16(block)) * static_cast<float>(q - 8);
}

// Element j (0..255) of a Q4_K super-block: (d * sc) * q - (dmin * m) for its sub-block.
SY_HD float dequant_q4_k(const uint8_t* block, int j) {
  const int sub = j / 32;
  int sc, m;
  q4_k_scale_min(block + 4, sub, sc, m);
  const uint8_t* qs = block + 16;  // after d, dmin and the 12 scale bytes
  const int q = (qs[32 * (sub / 2) + j % 32] >> ((sub % 2) * 4)) & 0x0F;
  const float scale = half_to_float(load_u16(block)) * static_cast<float>(sc);
  const float offset = half_to_float(load_u16(block + 2)) * static_cast<float>(m);
  return scale * static_cast<float>(q) - offset;
}

// Element e (0..255) of a Q6_K super-block (ql[128], qh[64], int8 scales[16], fp16 d):
// (d * scale) * (q - 32), q 4 low bits from ql and 2 high bits from qh (cpu_kernels.h).
SY_HD float dequant_q6_k(const uint8_t* block, int e) {
  const int h = e / 128, g = (e % 128) / 32, l = e % 32;
  const int low = (block[64 * h + 32 * (g & 1) + l] >> (g < 2 ? 0 : 4)) & 0x0F;
  const int high = (block[128 + 32 * h + l] >> (2 * g)) & 0x03;
  const float d = half_to_float(load_u16(block + 208));
  return d * static_cast<float>(static_cast<int8_t>(block[192 + e / 16])) *
         static_cast<float>((low | (high << 4)) - 32);
}

// Element k of a row of format T.
template <WeightType T>
SY_HD float dequant_at(const uint8_t* row, size_t k) {
  if constexpr (T == WeightType::f32) {
    return reinterpret_cast<const float*>(row)[k];  // rows of float formats are aligned
  } else if constexpr (T == WeightType::f16) {
    return half_to_float(reinterpret_cast<const uint16_t*>(row)[k]);
  } else if constexpr (T == WeightType::bf16) {
    return bf16_to_float(reinterpret_cast<const uint16_t*>(row)[k]);
  } else if constexpr (T == WeightType::q8_0) {
    return dequant_q8_0(row + (k / 32) * 34, static_cast<int>(k % 32));
  } else if constexpr (T == WeightType::q4_0) {
    return dequant_q4_0(row + (k / 32) * 18, static_cast<int>(k % 32));
  } else if constexpr (T == WeightType::q4_k) {
    return dequant_q4_k(row + (k / 256) * 144, static_cast<int>(k % 256));
  } else {
    return dequant_q6_k(row + (k / 256) * 210, static_cast<int>(k % 256));
  }
}

// The decode matvec's work for one lane of a warp (kernels/cuda/matvec.cu): elements k = lane,
// lane + 32, ... of the row times the n_tokens activations (token t at x + t * x_stride),
// accumulated into acc[0..n_tokens). The kernel then sums the 32 lanes with warp_tree_sum's order.
template <WeightType T>
SY_HD void row_dot_lane(const uint8_t* row, size_t cols, const float* x, size_t x_stride,
                        int n_tokens, int lane, float* acc) {
  for (size_t k = static_cast<size_t>(lane); k < cols; k += 32) {
    const float w = dequant_at<T>(row, k);
    for (int t = 0; t < n_tokens; ++t) acc[t] += w * x[t * x_stride + k];
  }
}

// The butterfly a warp's __shfl_xor_sync reduction performs, on 32 host values: lane i ends
// with the same sum in every lane; returns lane 0's. For host tests of the device order.
inline float warp_tree_sum(float (&v)[32]) {
  for (int offset = 16; offset > 0; offset /= 2) {
    float next[32];
    for (int i = 0; i < 32; ++i) next[i] = v[i] + v[i ^ offset];
    for (int i = 0; i < 32; ++i) v[i] = next[i];
  }
  return v[0];
}

}  // namespace sy::engine::cuda
