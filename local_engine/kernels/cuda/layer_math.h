#pragma once
// Per-element math of the layer kernels (rms_norm.cu, rope.cu, swiglu.cu, attention.cu), host and
// device, the same formulas as runtime/llama_cpu.cpp so the host tests can hold them to it.

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/cuda/hd.h"

namespace sy::engine::cuda {

// RMSNorm's factor from the sum of squares of n elements: x_i * factor * weight_i.
SY_HD float rms_factor(float sum_squares, size_t n, float eps) {
  return 1.0f / sqrtf(sum_squares / static_cast<float>(n) + eps);
}

// RoPE: the two elements of a head that pair i (of rope_dim / 2) rotates. Adjacent pairs
// (Llama's GGUF layout) rotate (2i, 2i+1); the NeoX style (Qwen2, Gemma...) rotates (i, i+half).
SY_HD void rope_pair(size_t i, size_t half, bool neox, size_t& a, size_t& b) {
  a = neox ? i : 2 * i;
  b = neox ? i + half : 2 * i + 1;
}

// The angle of pair i at `pos`: pos * inv_freq_i, the rotation then as llama_cpu's rope().
SY_HD void rope_rotate(float& a, float& b, float cos_v, float sin_v) {
  const float x = a, y = b;
  a = x * cos_v - y * sin_v;
  b = x * sin_v + y * cos_v;
}

SY_HD float silu(float x) { return x / (1.0f + expf(-x)); }

SY_HD float gelu_tanh(float x) {
  const float sqrt_2_over_pi = 0.7978845608f;
  return 0.5f * x * (1.0f + tanhf(sqrt_2_over_pi * (x + 0.044715f * x * x * x)));
}

// Gated FFN activation: act(gate) * up, act SiLU or GELU-tanh.
SY_HD float gated(float gate, float up, bool gelu) {
  return (gelu ? gelu_tanh(gate) : silu(gate)) * up;
}

// A soft-cap (Gemma 2): cap * tanh(x / cap), or x itself when cap <= 0.
SY_HD float soft_cap(float x, float cap) { return cap > 0 ? cap * tanhf(x / cap) : x; }

}  // namespace sy::engine::cuda
