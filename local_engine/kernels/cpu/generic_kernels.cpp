// The generic kernels: plain C++, the reference every ISA override is tested against.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/attention_heads.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/matmul_q4_k.h"

namespace sy::engine::kernels {
namespace {

float dot_f32(const float* a, const float* b, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float dot_f16_f32(const uint16_t* a, const float* b, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += fp16_to_fp32(a[i]) * b[i];
  return sum;
}

// The chain of the Q8_0/Q4_0 contract (cpu_kernels.h): one fma per block, blocks in order.
inline float block_step(int32_t isum, uint16_t wd, uint16_t xd, float acc) {
  return std::fma(static_cast<float>(isum), fp16_to_fp32(wd) * fp16_to_fp32(xd), acc);
}

float dot_q8_0_q8_0(const BlockQ8_0* w, const BlockQ8_0* x, size_t n_blocks) {
  float acc = 0;
  for (size_t b = 0; b < n_blocks; ++b) {
    int32_t isum = 0;
    for (int j = 0; j < 32; ++j) isum += int32_t{w[b].qs[j]} * x[b].qs[j];
    acc = block_step(isum, w[b].d, x[b].d, acc);
  }
  return acc;
}

float dot_q4_0_q8_0(const BlockQ4_0* w, const BlockQ8_0* x, size_t n_blocks) {
  float acc = 0;
  for (size_t b = 0; b < n_blocks; ++b) {
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += ((w[b].qs[j] & 0x0F) - 8) * int32_t{x[b].qs[j]};
      isum += ((w[b].qs[j] >> 4) - 8) * int32_t{x[b].qs[j + 16]};
    }
    acc = block_step(isum, w[b].d, x[b].d, acc);
  }
  return acc;
}

float dot_bf16_f32(const uint16_t* a, const float* b, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += bf16_to_fp32(a[i]) * b[i];
  return sum;
}

// The Q4_K contract's chain (cpu_kernels.h): per super-block the exact integers S_b and M_b,
// then two fmas.
float dot_q4_k_q8_k(const BlockQ4_K* w, const BlockQ8_K* x, size_t n_blocks) {
  float acc = 0;
  for (size_t b = 0; b < n_blocks; ++b) {
    int32_t scaled = 0, mins = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      q4_k_scale_min(w[b].scales, j, sc, m);
      const uint8_t* run = w[b].qs + 32 * (j / 2);
      const int shift = (j % 2) * 4;
      int32_t isum = 0;
      for (int l = 0; l < 32; ++l)
        isum += ((run[l] >> shift) & 0x0F) * int32_t{x[b].qs[32 * j + l]};
      scaled += sc * isum;
      mins += m * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
    }
    acc = std::fma(static_cast<float>(scaled), fp16_to_fp32(w[b].d) * x[b].d, acc);
    acc = std::fma(-static_cast<float>(mins), fp16_to_fp32(w[b].dmin) * x[b].d, acc);
  }
  return acc;
}

float dot_q6_k_q8_k(const BlockQ6_K* w, const BlockQ8_K* x, size_t n_blocks) {
  float sum = 0;
  for (size_t b = 0; b < n_blocks; ++b) {
    int32_t sub[16] = {};  // (q - 32) . x per sub-block of 16
    for (int e = 0; e < 256; ++e) {
      const int h = e / 128, g = (e % 128) / 32, l = e % 32;
      const int low = (w[b].ql[64 * h + 32 * (g & 1) + l] >> (g < 2 ? 0 : 4)) & 0x0F;
      const int high = (w[b].qh[32 * h + l] >> (2 * g)) & 0x03;
      sub[e / 16] += ((low | (high << 4)) - 32) * int32_t{x[b].qs[e]};
    }
    int32_t isum = 0;
    for (int k = 0; k < 16; ++k) isum += w[b].scales[k] * sub[k];
    sum += fp16_to_fp32(w[b].d) * x[b].d * static_cast<float>(isum);
  }
  return sum;
}

// The generic matvecs are the dots row by row: nothing to share without vectors.
void matvec_f16_f32(const uint16_t* w, size_t n_rows, const float* x, size_t n, float* out) {
  for (size_t r = 0; r < n_rows; ++r) out[r] = dot_f16_f32(w + r * n, x, n);
}

void matvec_bf16_f32(const uint16_t* w, size_t n_rows, const float* x, size_t n, float* out) {
  for (size_t r = 0; r < n_rows; ++r) out[r] = dot_bf16_f32(w + r * n, x, n);
}

void matvec_q8_0_q8_0(const BlockQ8_0* w, size_t n_rows, const BlockQ8_0* x, size_t n_blocks,
                      float* out) {
  for (size_t r = 0; r < n_rows; ++r) out[r] = dot_q8_0_q8_0(w + r * n_blocks, x, n_blocks);
}

void matvec_q4_0_q8_0(const BlockQ4_0* w, size_t n_rows, const BlockQ8_0* x, size_t n_blocks,
                      float* out) {
  for (size_t r = 0; r < n_rows; ++r) out[r] = dot_q4_0_q8_0(w + r * n_blocks, x, n_blocks);
}

// Row groups, one output at a time: the same chain as the dots, read from the group layout.
void matmul_q8_0_groups(const RowGroupQ8_0* w, size_t n_groups, size_t n_blocks,
                        const ActivationQ8* x, size_t n_tokens, float* out, size_t out_stride,
                        SidePrefetch* /*side: hints only, the oracle stays plain*/) {
  for (size_t g = 0; g < n_groups; ++g) {
    const RowGroupQ8_0* wg = w + g * n_blocks;
    for (size_t t = 0; t < n_tokens; ++t) {
      const ActivationQ8* xt = x + t * n_blocks;
      for (size_t i = 0; i < kGroupRows; ++i) {
        float acc = 0;
        for (size_t b = 0; b < n_blocks; ++b) {
          int32_t isum = 0;
          for (int e = 0; e < 32; ++e) {
            const int8_t q = static_cast<int8_t>(wg[b].qs[e / 4][4 * i + e % 4] ^ 0x80);
            isum += int32_t{q} * xt[b].qs[e];
          }
          acc = std::fma(static_cast<float>(isum), fp16_to_fp32(wg[b].d[i]) * xt[b].d, acc);
        }
        out[t * out_stride + g * kGroupRows + i] = acc;
      }
    }
  }
}

void matmul_q4_0_groups(const RowGroupQ4_0* w, size_t n_groups, size_t n_blocks,
                        const ActivationQ8* x, size_t n_tokens, float* out, size_t out_stride,
                        SidePrefetch* /*side*/) {
  for (size_t g = 0; g < n_groups; ++g) {
    const RowGroupQ4_0* wg = w + g * n_blocks;
    for (size_t t = 0; t < n_tokens; ++t) {
      const ActivationQ8* xt = x + t * n_blocks;
      for (size_t i = 0; i < kGroupRows; ++i) {
        float acc = 0;
        for (size_t b = 0; b < n_blocks; ++b) {
          int32_t isum = 0;
          for (int e = 0; e < 16; ++e) {
            const uint8_t byte = wg[b].qs[e / 4][4 * i + e % 4];
            isum += ((byte & 0x0F) - 8) * int32_t{xt[b].qs[e]};
            isum += ((byte >> 4) - 8) * int32_t{xt[b].qs[e + 16]};
          }
          acc = std::fma(static_cast<float>(isum), fp16_to_fp32(wg[b].d[i]) * xt[b].d, acc);
        }
        out[t * out_stride + g * kGroupRows + i] = acc;
      }
    }
  }
}

void attention_scores_f16(const uint16_t* keys, size_t row_stride, size_t n_rows, const float* q,
                          size_t n_queries, size_t head_dim, float* scores, size_t scores_stride) {
  for (size_t t = 0; t < n_rows; ++t) {
    for (size_t g = 0; g < n_queries; ++g) {
      scores[g * scores_stride + t] =
          dot_f16_f32(keys + t * row_stride, q + g * head_dim, head_dim);
    }
  }
}

void attention_values_f16(const uint16_t* values, size_t row_stride, size_t n_rows,
                          const float* probs, size_t probs_stride, size_t n_queries,
                          size_t head_dim, float* out) {
  for (size_t g = 0; g < n_queries; ++g) {
    float* o = out + g * head_dim;
    const float* p = probs + g * probs_stride;
    for (size_t t = 0; t < n_rows; ++t) {
      const uint16_t* v = values + t * row_stride;
      for (size_t i = 0; i < head_dim; ++i) o[i] += p[t] * fp16_to_fp32(v[i]);
    }
  }
}

uint64_t read_lines(const std::byte* p, size_t bytes) {
  uint64_t sum[4] = {};
  for (size_t at = 0; at + 256 <= bytes; at += 256) {
    for (size_t line = 0; line < 4; ++line) {
      for (size_t w = 0; w < 8; ++w) {
        uint64_t v;
        std::memcpy(&v, p + at + 64 * line + 8 * w, sizeof(v));
        sum[line] += v;
      }
    }
  }
  return sum[0] + sum[1] + sum[2] + sum[3];
}

float scale_max(float* x, size_t n, float scale) {
  float max = -INFINITY;
  for (size_t i = 0; i < n; ++i) {
    x[i] *= scale;
    max = std::max(max, x[i]);
  }
  return max;
}

float softmax_exp(float* x, size_t n, float max) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  return sum;
}

}  // namespace

void quantize_row_q8_0(const float* x, BlockQ8_0* y, size_t n) {
  for (size_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    for (int j = 0; j < 32; ++j) y[b].qs[j] = static_cast<int8_t>(std::round(x[b * 32 + j] * id));
  }
}

void quantize_row_q4_0(const float* x, BlockQ4_0* y, size_t n) {
  for (size_t b = 0; b < n / 32; ++b) {
    // The value of largest magnitude maps to -8, so the scale keeps its sign (as ggml does).
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
      const float v = x[b * 32 + j];
      if (std::fabs(v) > amax) {
        amax = std::fabs(v);
        max = v;
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    for (int j = 0; j < 16; ++j) {
      const int lo = std::min(15, static_cast<int>(x[b * 32 + j] * id + 8.5f));
      const int hi = std::min(15, static_cast<int>(x[b * 32 + j + 16] * id + 8.5f));
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void pack_activations_q8(const BlockQ8_0* x, size_t n_blocks, ActivationQ8* out) {
  for (size_t b = 0; b < n_blocks; ++b) {
    std::copy_n(x[b].qs, 32, out[b].qs);
    int32_t sum = 0;
    for (int8_t q : x[b].qs) sum += q;
    out[b].sum = sum;
    out[b].d = fp16_to_fp32(x[b].d);
  }
}

const CpuKernels& generic_cpu_kernels() {
  static const CpuKernels kernels{"generic",
                                  &dot_f32,
                                  &dot_f16_f32,
                                  &dot_q8_0_q8_0,
                                  &dot_q4_0_q8_0,
                                  &dot_bf16_f32,
                                  &dot_q4_k_q8_k,
                                  &dot_q6_k_q8_k,
                                  &matvec_f16_f32,
                                  &matvec_bf16_f32,
                                  &matvec_q8_0_q8_0,
                                  &matvec_q4_0_q8_0,
                                  &quantize_row_q8_0,
                                  &attention_values_f16,
                                  &matmul_q8_0_groups,
                                  &matmul_q4_0_groups,
                                  &attention_scores_f16,
                                  nullptr,  // matmul_q4_k_q8_k: matmul.cpp runs the dots
                                  &scale_max,
                                  &softmax_exp,
                                  nullptr,  // silu_mul: LlamaCpu's portable lanes
                                  nullptr,  // fp32_to_fp16_row: the caller's loop
                                  nullptr,  // exp_sum: log_softmax's portable lanes
                                  &matmul_q4_k_groups_generic,
                                  &quantize_row_q8_k,
                                  &attention_scores_heads<&attention_scores_f16>,
                                  &attention_values_heads<&attention_values_f16>,
                                  &read_lines};
  return kernels;
}

const CpuKernels& select_cpu_kernels() {
  if (const CpuKernels* k = avx512_cpu_kernels()) return *k;
  if (const CpuKernels* k = avx2_cpu_kernels()) return *k;
  return generic_cpu_kernels();
}

}  // namespace sy::engine::kernels
