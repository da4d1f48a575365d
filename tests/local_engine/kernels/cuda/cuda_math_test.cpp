// The CUDA kernels' per-element math (kernels/cuda/*_math.h), run on the host against the CPU
// generic path. These run everywhere (no GPU needed): the device executes the same functions,
// so what is held here is what the kernels compute, up to the device fusing a multiply-add.
// Bounds: conversions and dequantization bit-exact; a row dot in the warp's lane order within
// the CPU's activation quantization error (per element |w| * block amax / 254) plus 1e-5 of
// sum |w x| for the summation order; norms, RoPE, activations and attention within 1e-5
// relative of a double-precision oracle or bit-exact with the CPU pass's formula.

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/matvec.h"
#include "kernels/cuda/attention_math.h"
#include "kernels/cuda/dequant_math.h"
#include "kernels/cuda/half_math.h"
#include "kernels/cuda/layer_math.h"
#include "runtime/kv_cache.h"

namespace sy::engine::cuda {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(CudaHalfMath, HalfToFloatEqualsCpuForEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float got = half_to_float(static_cast<uint16_t>(h));
    const float want = kernels::fp16_to_fp32(static_cast<uint16_t>(h));
    ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << std::hex << h;
  }
}

TEST(CudaHalfMath, FloatToHalfEqualsCpuOnEdgesAndRandomFloats) {
  std::vector<float> values = {
      0.0f,         -0.0f,    1.0f,          -1.0f,         65504.0f,     65520.0f,
      65519.99f,    1e-8f,    5.9604645e-8f, 2.9802322e-8f, 8.940697e-8f, 6.1035156e-5f,
      6.097555e-5f, INFINITY, -INFINITY,     NAN,           1e30f,        -3.0e-6f};
  std::mt19937 rng(5);
  for (int i = 0; i < 200000; ++i) {
    // Random bit patterns cover every exponent, subnormal halves and the rounding ties.
    values.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));
  }
  for (uint32_t h = 0; h < 0x7C00; h += 7) {  // exact halves and the floats just above them
    const float f = kernels::fp16_to_fp32(static_cast<uint16_t>(h));
    values.push_back(f);
    values.push_back(std::nextafter(f, INFINITY));
  }
  for (float f : values) ASSERT_EQ(float_to_half(f), kernels::fp32_to_fp16(f)) << f;
}

TEST(CudaHalfMath, Bf16ToFloatEqualsCpuForEveryValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float got = bf16_to_float(static_cast<uint16_t>(h));
    const float want = kernels::bf16_to_fp32(static_cast<uint16_t>(h));
    ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << std::hex << h;
  }
}

// A (rows, cols) matrix of weights stored in `type`, as a GGUF file holds it.
std::vector<uint8_t> encode(WeightType type, const std::vector<float>& w, size_t rows,
                            size_t cols) {
  std::vector<uint8_t> out(rows * row_bytes(type, cols));
  for (size_t r = 0; r < rows; ++r) {
    const float* x = w.data() + r * cols;
    uint8_t* o = out.data() + r * row_bytes(type, cols);
    switch (type) {
      case WeightType::f32:
        std::memcpy(o, x, cols * 4);
        break;
      case WeightType::f16:
      case WeightType::bf16:
        for (size_t i = 0; i < cols; ++i) {
          const uint16_t h =
              type == WeightType::f16 ? kernels::fp32_to_fp16(x[i]) : kernels::fp32_to_bf16(x[i]);
          std::memcpy(o + 2 * i, &h, 2);
        }
        break;
      case WeightType::q8_0:
        kernels::quantize_row_q8_0(x, reinterpret_cast<kernels::BlockQ8_0*>(o), cols);
        break;
      case WeightType::q4_0:
        kernels::quantize_row_q4_0(x, reinterpret_cast<kernels::BlockQ4_0*>(o), cols);
        break;
      case WeightType::q4_k:
        kernels::quantize_row_q4_k(x, reinterpret_cast<kernels::BlockQ4_K*>(o), cols);
        break;
      case WeightType::q6_k:
        kernels::quantize_row_q6_k(x, reinterpret_cast<kernels::BlockQ6_K*>(o), cols);
        break;
    }
  }
  return out;
}

TensorType tensor_type(WeightType t) {
  constexpr TensorType map[] = {TensorType::f32,  TensorType::f16,  TensorType::bf16,
                                TensorType::q8_0, TensorType::q4_0, TensorType::q4_k,
                                TensorType::q6_k};
  return map[static_cast<int>(t)];
}

float dequant(WeightType t, const uint8_t* row, size_t k) {
  switch (t) {
    case WeightType::f32:
      return dequant_at<WeightType::f32>(row, k);
    case WeightType::f16:
      return dequant_at<WeightType::f16>(row, k);
    case WeightType::bf16:
      return dequant_at<WeightType::bf16>(row, k);
    case WeightType::q8_0:
      return dequant_at<WeightType::q8_0>(row, k);
    case WeightType::q4_0:
      return dequant_at<WeightType::q4_0>(row, k);
    case WeightType::q4_k:
      return dequant_at<WeightType::q4_k>(row, k);
    case WeightType::q6_k:
      return dequant_at<WeightType::q6_k>(row, k);
  }
  return 0;
}

template <WeightType T>
void lanes_of(const uint8_t* row, size_t cols, const float* x, int n_tokens, float (*acc)[3]) {
  for (int lane = 0; lane < 32; ++lane)
    row_dot_lane<T>(row, cols, x, cols, n_tokens, lane, acc[lane]);
}

// acc[lane][token] as the 32 lanes of matmul.cu's warp_rows kernel leave them.
void warp_lanes(WeightType t, const uint8_t* row, size_t cols, const float* x, int n_tokens,
                float (*acc)[3]) {
  switch (t) {
    case WeightType::f32:
      return lanes_of<WeightType::f32>(row, cols, x, n_tokens, acc);
    case WeightType::f16:
      return lanes_of<WeightType::f16>(row, cols, x, n_tokens, acc);
    case WeightType::bf16:
      return lanes_of<WeightType::bf16>(row, cols, x, n_tokens, acc);
    case WeightType::q8_0:
      return lanes_of<WeightType::q8_0>(row, cols, x, n_tokens, acc);
    case WeightType::q4_0:
      return lanes_of<WeightType::q4_0>(row, cols, x, n_tokens, acc);
    case WeightType::q4_k:
      return lanes_of<WeightType::q4_k>(row, cols, x, n_tokens, acc);
    case WeightType::q6_k:
      return lanes_of<WeightType::q6_k>(row, cols, x, n_tokens, acc);
  }
}

constexpr WeightType kTypes[] = {WeightType::f32,  WeightType::f16,  WeightType::bf16,
                                 WeightType::q8_0, WeightType::q4_0, WeightType::q4_k,
                                 WeightType::q6_k};

// Awkward widths: several blocks, not a power of two; for the float formats not even a multiple
// of 32 (stories260K's FFN is 172 wide).
size_t test_cols(WeightType t) {
  if (block_elements(t) == 256) return 3 * 256;
  if (block_elements(t) == 32) return 7 * 32;
  return 172;
}

std::vector<float> dequantized(WeightType t, const std::vector<uint8_t>& bytes, size_t n) {
  std::vector<float> out(n);
  kernels::dequantize(tensor_type(t),
                      std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
                      out);
  return out;
}

TEST(CudaDequantMath, ElementsEqualCpuDequantizeBitForBit) {
  for (WeightType t : kTypes) {
    const size_t rows = 5, cols = test_cols(t);
    const auto w = random_floats(rows * cols, 3 + static_cast<uint32_t>(t), 0.7f);
    const auto bytes = encode(t, w, rows, cols);
    const auto want = dequantized(t, bytes, rows * cols);
    for (size_t r = 0; r < rows; ++r) {
      for (size_t k = 0; k < cols; ++k) {
        const float got = dequant(t, bytes.data() + r * row_bytes(t, cols), k);
        ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want[r * cols + k]))
            << "type " << static_cast<int>(t) << " row " << r << " element " << k;
      }
    }
  }
}

TEST(CudaDequantMath, Q4KScaleMinEqualsCpuForRandomBytes) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 2000; ++trial) {
    uint8_t scales[12];
    for (uint8_t& b : scales) b = static_cast<uint8_t>(rng());
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      uint8_t want_sc, want_m;
      q4_k_scale_min(scales, j, sc, m);
      kernels::q4_k_scale_min(scales, j, want_sc, want_m);
      ASSERT_EQ(sc, want_sc);
      ASSERT_EQ(m, want_m);
    }
  }
}

// The decode matvec as a warp computes it (32 lanes, then the butterfly) against the CPU
// generic matvec on every weight format, for each of 3 tokens.
TEST(CudaDequantMath, WarpRowDotMatchesCpuGenericMatvecWithinBound) {
  const kernels::CpuKernels& generic = kernels::generic_cpu_kernels();
  for (WeightType t : kTypes) {
    const size_t rows = 9, cols = test_cols(t);
    constexpr int kTokens = 3;
    const auto w = random_floats(rows * cols, 21 + static_cast<uint32_t>(t), 0.5f);
    const auto x = random_floats(kTokens * cols, 40 + static_cast<uint32_t>(t));
    const auto bytes = encode(t, w, rows, cols);
    const auto wd = dequantized(t, bytes, rows * cols);
    const kernels::MatrixView view{tensor_type(t), bytes.data(), rows, cols};
    // The CPU quantizes x per block of 32 (Q8_0) or 256 (Q8_K) for the quantized formats.
    const size_t qblock = t == WeightType::q8_0 || t == WeightType::q4_0 ? 32
                          : block_elements(t) == 256                     ? 256
                                                                         : 0;
    for (size_t r = 0; r < rows; ++r) {
      float lanes[32][kTokens] = {};
      warp_lanes(t, bytes.data() + r * row_bytes(t, cols), cols, x.data(), kTokens, lanes);
      for (int tok = 0; tok < kTokens; ++tok) {
        const float* xt = x.data() + tok * cols;
        std::vector<float> want(rows);
        kernels::MatvecScratch scratch;
        kernels::matvec(generic, view, xt, want.data(), scratch);
        float v[32];
        for (int lane = 0; lane < 32; ++lane) v[lane] = lanes[lane][tok];
        const float got = warp_tree_sum(v);
        double bound = 0, magnitude = 0;
        for (size_t k = 0; k < cols; ++k) {
          const double wk = std::fabs(wd[r * cols + k]);
          magnitude += wk * std::fabs(xt[k]);
          if (qblock != 0) {
            float amax = 0;
            const size_t b0 = k / qblock * qblock;
            for (size_t j = b0; j < b0 + qblock; ++j) amax = std::max(amax, std::fabs(xt[j]));
            bound += wk * amax / 254.0;
          }
        }
        bound = bound * 1.01 + 1e-5 * magnitude + 1e-6;
        EXPECT_NEAR(got, want[r], bound)
            << "type " << static_cast<int>(t) << " row " << r << " token " << tok;
      }
    }
  }
}

TEST(CudaLayerMath, RmsFactorMatchesDoubleOracle) {
  for (size_t n : {1, 7, 64, 173, 2048}) {
    const auto x = random_floats(n, static_cast<uint32_t>(n), 3.0f);
    float sum = 0;
    double sum_d = 0;
    for (float v : x) {
      sum += v * v;
      sum_d += double(v) * v;
    }
    const double want = 1.0 / std::sqrt(sum_d / n + 1e-5);
    EXPECT_NEAR(rms_factor(sum, n, 1e-5f), want, 1e-5 * want) << n;
  }
}

// The CPU pass's RoPE (runtime/llama_cpu.cpp): pair i of a head rotates (2i, 2i+1) in the
// adjacent style and (i, i + rope_dim/2) in the halves (NeoX) style; dims past rope_dim stay.
TEST(CudaLayerMath, RopeRotatesThePairsOfBothStyles) {
  const size_t head_dim = 20, rope_dim = 12, half = rope_dim / 2;
  for (bool neox : {false, true}) {
    auto head = random_floats(head_dim, neox ? 2 : 1);
    const auto before = head;
    const size_t pos = 37;
    std::vector<bool> touched(head_dim, false);
    for (size_t i = 0; i < half; ++i) {
      const float inv = std::pow(10000.0f, -static_cast<float>(2 * i) / rope_dim);
      const float angle = static_cast<float>(pos) * inv;
      size_t a, b;
      rope_pair(i, half, neox, a, b);
      EXPECT_EQ(a, neox ? i : 2 * i);
      EXPECT_EQ(b, neox ? i + half : 2 * i + 1);
      touched[a] = touched[b] = true;
      rope_rotate(head[a], head[b], std::cos(angle), std::sin(angle));
      const double ca = std::cos(double(angle)), sa = std::sin(double(angle));
      EXPECT_NEAR(head[a], before[a] * ca - before[b] * sa, 1e-5);
      EXPECT_NEAR(head[b], before[a] * sa + before[b] * ca, 1e-5);
    }
    for (size_t i = 0; i < head_dim; ++i) {
      EXPECT_EQ(touched[i], i < rope_dim) << i;
      if (!touched[i]) {
        EXPECT_EQ(head[i], before[i]);
      }
    }
  }
}

TEST(CudaLayerMath, GatedActivationsEqualTheCpuFormulas) {
  const auto g = random_floats(1000, 77, 4.0f), u = random_floats(1000, 78);
  for (size_t i = 0; i < g.size(); ++i) {
    // llama_cpu.cpp's SiLU line and its gelu_tanh, as written there.
    const float silu_want = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    const float k = 0.7978845608f;
    const float gelu_want =
        0.5f * g[i] * (1.0f + std::tanh(k * (g[i] + 0.044715f * g[i] * g[i] * g[i]))) * u[i];
    EXPECT_EQ(gated(g[i], u[i], false), silu_want);
    EXPECT_EQ(gated(g[i], u[i], true), gelu_want);
  }
  EXPECT_EQ(soft_cap(3.0f, 0.0f), 3.0f);
  EXPECT_NEAR(soft_cap(3.0f, 0.5f), 0.5 * std::tanh(6.0), 1e-6);
}

TEST(CudaAttentionMath, FirstVisibleHonoursTheSlidingWindow) {
  EXPECT_EQ(first_visible(10, 0), 0u);
  EXPECT_EQ(first_visible(3, 5), 0u);
  EXPECT_EQ(first_visible(4, 5), 0u);
  EXPECT_EQ(first_visible(5, 5), 1u);
  EXPECT_EQ(first_visible(10, 5), 6u);
}

ModelConfig kv_config(uint32_t n_layers, uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim) {
  ModelConfig c;
  c.n_layers = n_layers;
  c.n_heads = n_heads;
  c.n_kv_heads = n_kv_heads;
  c.head_dim = head_dim;
  c.dim = n_heads * head_dim;
  return c;
}

// kv_offset addresses exactly KvCache's storage: through a block table that is not the
// identity (another sequence took blocks first), for every layer, position, head and half.
TEST(CudaAttentionMath, KvOffsetAddressesKvCacheStorage) {
  const ModelConfig c = kv_config(3, 6, 2, 8);
  KvCache cache(c, {.block_tokens = 4, .max_blocks = 12, .type = KvCacheType::f16});
  KvSequence other, seq;
  ASSERT_TRUE(cache.reserve(other, 7));
  ASSERT_TRUE(cache.reserve(seq, 19));
  const uint16_t* base = cache.keys_f16(0, 0);
  const size_t kv_width = cache.kv_width();
  for (size_t l = 0; l < c.n_layers; ++l) {
    for (size_t pos = 0; pos < 19; ++pos) {
      for (size_t h = 0; h < c.n_kv_heads; ++h) {
        const BlockId b = seq.blocks[pos / 4];
        const size_t within = (pos % 4) * kv_width + h * c.head_dim;
        EXPECT_EQ(
            base + kv_offset(seq.blocks.data(), pos, 4, c.n_layers, l, 0, kv_width, h, c.head_dim),
            cache.keys_f16(b, l) + within);
        EXPECT_EQ(
            base + kv_offset(seq.blocks.data(), pos, 4, c.n_layers, l, 1, kv_width, h, c.head_dim),
            cache.values_f16(b, l) + within);
      }
    }
  }
}

// Scores, softmax and the value sum as attention.cu composes them, over a paged F16 cache,
// against a double-precision oracle: within 1e-5 relative.
TEST(CudaAttentionMath, ScoresAndValuesOverPagesMatchOracle) {
  const ModelConfig c = kv_config(2, 4, 2, 24);
  KvCache cache(c, {.block_tokens = 4, .max_blocks = 16, .type = KvCacheType::f16});
  KvSequence other, seq;
  ASSERT_TRUE(cache.reserve(other, 5));
  const size_t positions = 23, layer = 1, kv_width = cache.kv_width();
  ASSERT_TRUE(cache.reserve(seq, positions));
  const auto keys = random_floats(positions * kv_width, 101);
  const auto values = random_floats(positions * kv_width, 102);
  for (size_t p = 0; p < positions; ++p) {
    const BlockId b = seq.blocks[p / 4];
    for (size_t i = 0; i < kv_width; ++i) {
      cache.keys_f16(b, layer)[(p % 4) * kv_width + i] = float_to_half(keys[p * kv_width + i]);
      cache.values_f16(b, layer)[(p % 4) * kv_width + i] = float_to_half(values[p * kv_width + i]);
    }
  }
  const uint16_t* storage = cache.keys_f16(0, 0);
  const auto q = random_floats(c.head_dim, 103);
  const float scale = 1.0f / std::sqrt(float(c.head_dim));
  auto stored = [&](const std::vector<float>& v, size_t t, size_t kv_head, size_t i) {
    return half_to_float(float_to_half(v[t * kv_width + kv_head * c.head_dim + i]));
  };
  for (size_t window : {size_t{0}, size_t{6}}) {
    for (size_t kv_head = 0; kv_head < 2; ++kv_head) {
      const size_t pos = positions - 1, first = first_visible(pos, window);
      std::vector<float> probs(positions, 0.0f);
      std::vector<double> want_p(positions, 0.0);
      float max = -INFINITY;
      double max_d = -INFINITY;
      for (size_t t = first; t <= pos; ++t) {
        const size_t at =
            kv_offset(seq.blocks.data(), t, 4, c.n_layers, layer, 0, kv_width, kv_head, c.head_dim);
        probs[t] = attention_score(q.data(), storage + at, c.head_dim, scale, 0.0f);
        double d = 0;
        for (size_t i = 0; i < c.head_dim; ++i) d += double(q[i]) * stored(keys, t, kv_head, i);
        want_p[t] = d * scale;
        EXPECT_NEAR(probs[t], want_p[t], 1e-5 * (1 + std::fabs(want_p[t])));
        max = std::max(max, probs[t]);
        max_d = std::max(max_d, want_p[t]);
      }
      float sum = 0;
      double sum_d = 0;
      for (size_t t = first; t <= pos; ++t) {
        probs[t] = std::exp(probs[t] - max);
        sum += probs[t];
        want_p[t] = std::exp(want_p[t] - max_d);
        sum_d += want_p[t];
      }
      for (size_t t = first; t <= pos; ++t) {
        probs[t] /= sum;
        want_p[t] /= sum_d;
      }
      for (size_t d = 0; d < c.head_dim; ++d) {
        const float got =
            attention_value(storage, seq.blocks.data(), 4, c.n_layers, layer, kv_width, kv_head,
                            c.head_dim, probs.data(), first, pos, d);
        double want = 0;
        for (size_t t = first; t <= pos; ++t) want += want_p[t] * stored(values, t, kv_head, d);
        EXPECT_NEAR(got, want, 1e-5 * (1 + std::fabs(want))) << window << " " << d;
      }
    }
  }
}

}  // namespace
}  // namespace sy::engine::cuda
