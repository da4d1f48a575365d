// BF16, Q4_K, Q6_K weights and Q8_K activations: bit layout, quantization error and every kernel
// set the processor has against the generic one.
//
// Stated bounds:
//  * layout: hand-built blocks with known bytes dequantize to exactly the values ggml's layout
//    gives them;
//  * quantize -> dequantize on N(0, 1) data, normalized MSE (sum (y - x)^2 / sum x^2):
//    Q4_K <= 8e-3, Q6_K <= 5e-4, Q8_K <= 1e-4 (measured 5.3e-3..6.0e-3, 2.9e-4..3.6e-4,
//    3.6e-5); BF16 per element |y - x| <= 2^-8 |x| (half an ulp of an 8-bit significand);
//    Q8_K per element within d/2, block sums exact; Q6_K per element within one step
//    |d * sc| of its sub-block; Q4_K per element within one step d * sc + the min's rounding
//    dmin / 2;
//  * dots: optimized vs generic within 5e-5 * sum |w_i x_i| each, and normalized MSE over all
//    cases below 1e-10 (block integer sums are exact, only the float accumulation across blocks
//    differs); the generic dots equal the dot of the dequantized values within the same bound.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "local_engine/kernels/kernel_test_support.h"
#include "local_engine/normalized_mse.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine::kernels {
namespace {

using testing::optimized_sets;
using testing::random_floats;

template <typename T>
std::span<const std::byte> bytes_of(const std::vector<T>& v) {
  return std::as_bytes(std::span(v));
}

template <typename T>
std::vector<float> dequantized(TensorType type, const std::vector<T>& blocks) {
  std::vector<float> out(blocks.size() * kQK);
  dequantize(type, bytes_of(blocks), out);
  return out;
}

using sy::engine::testing::normalized_mse;

double abs_products(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::fabs(double(a[i]) * b[i]);
  return s;
}

std::vector<float> q8_k_values(const std::vector<BlockQ8_K>& x) {
  std::vector<float> out;
  for (const auto& b : x) {
    for (int j = 0; j < 256; ++j) out.push_back(b.d * static_cast<float>(b.qs[j]));
  }
  return out;
}

// ---- Bit layout -------------------------------------------------------------------------------

TEST(KQuantLayout, Q4_KScalesAndMinsUnpackFromTheirSixBitPacking) {
  // sc = {1, 2, 3, 4, 17, 34, 51, 63}, m = {5, 6, 7, 8, 18, 35, 52, 60} packed by hand: bytes
  // 0-3 carry sc[0..3] and the top 2 bits of sc[4..7]; bytes 4-7 m[0..3] and the top 2 bits of
  // m[4..7]; bytes 8-11 the low nibbles of sc[4..7] (low) and m[4..7] (high).
  const uint8_t packed[12] = {0x41, 0x82, 0xC3, 0xC4, 0x45, 0x86,
                              0xC7, 0xC8, 0x21, 0x32, 0x43, 0xCF};
  const uint8_t sc[8] = {1, 2, 3, 4, 17, 34, 51, 63};
  const uint8_t m[8] = {5, 6, 7, 8, 18, 35, 52, 60};
  for (int j = 0; j < 8; ++j) {
    uint8_t got_sc, got_m;
    q4_k_scale_min(packed, j, got_sc, got_m);
    EXPECT_EQ(got_sc, sc[j]) << j;
    EXPECT_EQ(got_m, m[j]) << j;
  }

  // A whole block: d = 1, dmin = 0.5; byte l of run c holds (l % 16) low, (15 - l % 16) high.
  std::vector<std::byte> block(144);
  const uint16_t d = 0x3C00, dmin = 0x3800;  // 1.0, 0.5 in fp16
  std::memcpy(block.data(), &d, 2);
  std::memcpy(block.data() + 2, &dmin, 2);
  std::memcpy(block.data() + 4, packed, 12);
  for (int i = 0; i < 128; ++i) {
    const int l = i % 16;
    block[16 + i] = static_cast<std::byte>(l | ((15 - l) << 4));
  }
  std::vector<float> out(256);
  dequantize(TensorType::q4_k, block, out);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      // Low nibbles are sub-block 2c (elements 64c..64c+31), high nibbles sub-block 2c+1.
      EXPECT_EQ(out[64 * c + l], 1.0f * sc[2 * c] * (l % 16) - 0.5f * m[2 * c]) << c << " " << l;
      EXPECT_EQ(out[64 * c + 32 + l], 1.0f * sc[2 * c + 1] * (15 - l % 16) - 0.5f * m[2 * c + 1])
          << c << " " << l;
    }
  }
}

TEST(KQuantLayout, Q6_KQuantsSplitAcrossQlAndQh) {
  // d = 0.5, scales[k] = k - 8 (sub-blocks of 16). Half 0: ql[0..31] = l%16 | 2<<4,
  // ql[32..63] = 0x43, qh[0..31] = 0xE4 (2-bit fields 0,1,2,3 for groups 0..3). Half 1:
  // ql[64..95] = 0x5A, ql[96..127] = 0x6C, qh[32..63] = 0x1B (fields 3,2,1,0).
  std::vector<std::byte> block(210);
  for (int l = 0; l < 32; ++l) {
    block[l] = static_cast<std::byte>((l % 16) | (2 << 4));
    block[32 + l] = std::byte{0x43};
    block[64 + l] = std::byte{0x5A};
    block[96 + l] = std::byte{0x6C};
    block[128 + l] = std::byte{0xE4};
    block[160 + l] = std::byte{0x1B};
  }
  for (int k = 0; k < 16; ++k) block[192 + k] = static_cast<std::byte>(static_cast<int8_t>(k - 8));
  const uint16_t d = 0x3800;  // 0.5
  std::memcpy(block.data() + 208, &d, 2);
  std::vector<float> out(256);
  dequantize(TensorType::q6_k, block, out);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, g = (e % 128) / 32, l = e % 32;
    // q = low 4 bits | high 2 bits << 4, minus 32.
    int q;
    if (h == 0) {
      const int table[4] = {(l % 16) | 0 << 4, 3 | 1 << 4, 2 | 2 << 4, 4 | 3 << 4};
      q = table[g];
    } else {
      const int table[4] = {10 | 3 << 4, 12 | 2 << 4, 5 | 1 << 4, 6 | 0 << 4};
      q = table[g];
    }
    EXPECT_EQ(out[e], 0.5f * static_cast<float>(e / 16 - 8) * static_cast<float>(q - 32)) << e;
  }
}

TEST(KQuantLayout, BlockSizesAndDequantizeRejectsPartialBlocks) {
  EXPECT_EQ(tensor_type_traits(TensorType::q4_k).block_bytes, sizeof(BlockQ4_K));
  EXPECT_EQ(tensor_type_traits(TensorType::q6_k).block_bytes, sizeof(BlockQ6_K));
  EXPECT_EQ(tensor_type_traits(TensorType::q8_k).block_bytes, sizeof(BlockQ8_K));
  std::vector<float> out(255);
  EXPECT_THROW(dequantize(TensorType::q4_k, std::vector<std::byte>(144), out), EngineError);
  std::vector<float> one(256);
  EXPECT_THROW(dequantize(TensorType::q6_k, std::vector<std::byte>(209), one), EngineError);
}

// ---- Quantization error -----------------------------------------------------------------------

TEST(KQuantQuantize, Q8_KKeepsEachElementWithinHalfAStepAndExactSums) {
  std::mt19937 rng(31);
  auto x = random_floats(rng, 3 * kQK, 2.0f);
  x[5] = 0.0f;
  std::vector<BlockQ8_K> q(3);
  quantize_row_q8_k(x.data(), q.data(), x.size());
  auto y = q8_k_values(q);
  for (size_t b = 0; b < 3; ++b) {
    for (int k = 0; k < 16; ++k) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += q[b].qs[16 * k + j];
      EXPECT_EQ(q[b].bsums[k], sum);
    }
    for (int j = 0; j < 256; ++j) {
      EXPECT_LE(std::fabs(y[b * kQK + j] - x[b * kQK + j]), 0.5f * q[b].d * 1.0001f);
    }
  }
  EXPECT_LT(normalized_mse(y, x), 1e-4);
  std::vector<float> zeros(kQK, 0.0f);
  quantize_row_q8_k(zeros.data(), q.data(), kQK);
  EXPECT_EQ(q[0].d, 0.0f);
}

TEST(KQuantQuantize, Q4_KRoundTripStaysWithinBounds) {
  std::mt19937 rng(32);
  for (size_t blocks : {1, 3, 11}) {
    auto x = random_floats(rng, blocks * kQK);
    if (blocks == 3) {
      for (size_t i = 0; i < 32; ++i) x[i] = -1.5f;  // a constant negative sub-block
      for (size_t i = 32; i < 64; ++i) x[i] = 0.0f;  // and a zero one
      x[300] = 12.0f;                                // an outlier
    }
    std::vector<BlockQ4_K> q(blocks);
    quantize_row_q4_k(x.data(), q.data(), x.size());
    auto y = dequantized(TensorType::q4_k, q);
    std::printf("q4_k %zu blocks: normalized MSE %.3g\n", blocks, normalized_mse(y, x));
    EXPECT_LT(normalized_mse(y, x), 8e-3) << blocks;
    for (size_t b = 0; b < blocks; ++b) {
      const float d = fp16_to_fp32(q[b].d), dmin = fp16_to_fp32(q[b].dmin);
      for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        q4_k_scale_min(q[b].scales, j, sc, m);
        for (int l = 0; l < 32; ++l) {
          const size_t i = b * kQK + 32 * j + l;
          EXPECT_LE(std::fabs(y[i] - x[i]), 1.01f * d * sc + 0.51f * dmin + 1e-6f)
              << b << " " << j << " " << l;
        }
      }
    }
  }
}

TEST(KQuantQuantize, Q6_KRoundTripStaysWithinBounds) {
  std::mt19937 rng(33);
  for (size_t blocks : {1, 3, 11}) {
    auto x = random_floats(rng, blocks * kQK);
    if (blocks == 3) {
      for (size_t i = 0; i < 16; ++i) x[i] = 0.0f;
      x[400] = -9.0f;
    }
    std::vector<BlockQ6_K> q(blocks);
    quantize_row_q6_k(x.data(), q.data(), x.size());
    auto y = dequantized(TensorType::q6_k, q);
    std::printf("q6_k %zu blocks: normalized MSE %.3g\n", blocks, normalized_mse(y, x));
    EXPECT_LT(normalized_mse(y, x), 5e-4) << blocks;
    for (size_t b = 0; b < blocks; ++b) {
      const float d = fp16_to_fp32(q[b].d);
      for (int k = 0; k < 16; ++k) {
        const float step = std::fabs(d * q[b].scales[k]);
        for (int l = 0; l < 16; ++l) {
          const size_t i = b * kQK + 16 * k + l;
          EXPECT_LE(std::fabs(y[i] - x[i]), 1.01f * step + 1e-6f) << b << " " << k << " " << l;
        }
      }
    }
  }
}

TEST(KQuantQuantize, Bf16RoundsToNearestEvenWithinHalfAnUlp) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(fp32_to_bf16(-2.0f), 0xC000);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(fp32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(NAN))));
  std::mt19937 rng(30);
  for (float x : random_floats(rng, 10000, 100.0f)) {
    EXPECT_LE(std::fabs(bf16_to_fp32(fp32_to_bf16(x)) - x), std::ldexp(std::fabs(x), -8)) << x;
  }
}

// ---- Kernels ----------------------------------------------------------------------------------

struct KQuantCase {
  std::vector<float> x;       // activations
  std::vector<BlockQ8_K> x8;  // quantized
  std::vector<float> x8f;     // their values
  std::vector<BlockQ4_K> w4;
  std::vector<BlockQ6_K> w6;
  std::vector<float> w4f, w6f;  // dequantized weights
};

KQuantCase make_case(std::mt19937& rng, size_t blocks) {
  KQuantCase c;
  const size_t n = blocks * kQK;
  c.x = random_floats(rng, n);
  auto w = random_floats(rng, n, 0.05f);
  c.x8.resize(blocks);
  c.w4.resize(blocks);
  c.w6.resize(blocks);
  quantize_row_q8_k(c.x.data(), c.x8.data(), n);
  quantize_row_q4_k(w.data(), c.w4.data(), n);
  quantize_row_q6_k(w.data(), c.w6.data(), n);
  c.x8f = q8_k_values(c.x8);
  c.w4f = dequantized(TensorType::q4_k, c.w4);
  c.w6f = dequantized(TensorType::q6_k, c.w6);
  return c;
}

constexpr size_t kSuperBlockCounts[] = {1, 2, 3, 5, 8, 11};

TEST(KQuantKernels, GenericDotsEqualTheDotOfDequantizedValues) {
  std::mt19937 rng(34);
  const auto& g = generic_cpu_kernels();
  for (size_t blocks : kSuperBlockCounts) {
    KQuantCase c = make_case(rng, blocks);
    double exact4 = 0, exact6 = 0;
    for (size_t i = 0; i < c.x.size(); ++i) {
      exact4 += double(c.w4f[i]) * c.x8f[i];
      exact6 += double(c.w6f[i]) * c.x8f[i];
    }
    EXPECT_NEAR(g.dot_q4_k_q8_k(c.w4.data(), c.x8.data(), blocks), exact4,
                5e-5 * abs_products(c.w4f, c.x8f) + 1e-6)
        << blocks;
    EXPECT_NEAR(g.dot_q6_k_q8_k(c.w6.data(), c.x8.data(), blocks), exact6,
                5e-5 * abs_products(c.w6f, c.x8f) + 1e-6)
        << blocks;
  }
}

TEST(KQuantKernels, OptimizedDotsMatchGenericWithinBound) {
  std::mt19937 rng(35);
  const auto& g = generic_cpu_kernels();
  for (const CpuKernels* k : optimized_sets()) {
    std::vector<float> got4, want4, got6, want6;  // over every case, for the normalized MSE
    for (size_t blocks : kSuperBlockCounts) {
      for (int repeat = 0; repeat < 4; ++repeat) {
        KQuantCase c = make_case(rng, blocks);
        got4.push_back(k->dot_q4_k_q8_k(c.w4.data(), c.x8.data(), blocks));
        want4.push_back(g.dot_q4_k_q8_k(c.w4.data(), c.x8.data(), blocks));
        got6.push_back(k->dot_q6_k_q8_k(c.w6.data(), c.x8.data(), blocks));
        want6.push_back(g.dot_q6_k_q8_k(c.w6.data(), c.x8.data(), blocks));
        EXPECT_NEAR(got4.back(), want4.back(), 5e-5 * abs_products(c.w4f, c.x8f) + 1e-6)
            << k->isa << " blocks=" << blocks;
        EXPECT_NEAR(got6.back(), want6.back(), 5e-5 * abs_products(c.w6f, c.x8f) + 1e-6)
            << k->isa << " blocks=" << blocks;
      }
    }
    // Integer block sums are exact; only the float accumulation order differs.
    EXPECT_LT(normalized_mse(got4, want4), 1e-10) << k->isa;
    EXPECT_LT(normalized_mse(got6, want6), 1e-10) << k->isa;
  }
}

TEST(KQuantKernels, ExtremeQuantsDoNotSaturate) {
  // Largest products: Q4_K q = 15 with sc = m = 63; Q6_K q = 0 or 63 with scales -128/127;
  // activations +-127. The generic integer sums are exact, so the sets must agree exactly up to
  // float rounding of a handful of terms.
  std::vector<BlockQ4_K> w4(2);
  std::vector<BlockQ6_K> w6(2);
  std::vector<BlockQ8_K> x(2);
  for (size_t b = 0; b < 2; ++b) {
    w4[b].d = fp32_to_fp16(1.0f);
    w4[b].dmin = fp32_to_fp16(1.0f);
    std::memset(w4[b].scales, 0xFF, 12);  // every scale and min 63
    std::memset(w4[b].qs, 0xFF, 128);     // every quant 15
    w6[b].d = fp32_to_fp16(1.0f);
    std::memset(w6[b].ql, b == 0 ? 0xFF : 0x00, 128);
    std::memset(w6[b].qh, b == 0 ? 0xFF : 0x00, 64);
    for (int k = 0; k < 16; ++k) w6[b].scales[k] = static_cast<int8_t>(k % 2 ? 127 : -128);
    x[b].d = 1.0f;
    for (int j = 0; j < 256; ++j) x[b].qs[j] = static_cast<int8_t>(j % 3 ? 127 : -127);
    for (int k = 0; k < 16; ++k) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += x[b].qs[16 * k + j];
      x[b].bsums[k] = static_cast<int16_t>(sum);
    }
  }
  const auto& g = generic_cpu_kernels();
  const float want4 = g.dot_q4_k_q8_k(w4.data(), x.data(), 2);
  const float want6 = g.dot_q6_k_q8_k(w6.data(), x.data(), 2);
  for (const CpuKernels* k : optimized_sets()) {
    EXPECT_NEAR(k->dot_q4_k_q8_k(w4.data(), x.data(), 2), want4, 1e-6 * std::fabs(want4)) << k->isa;
    EXPECT_NEAR(k->dot_q6_k_q8_k(w6.data(), x.data(), 2), want6, 1e-6 * std::fabs(want6)) << k->isa;
  }
}

TEST(KQuantKernels, Bf16DotMatchesGenericWithinBound) {
  std::mt19937 rng(36);
  for (size_t n : {1, 7, 8, 15, 16, 17, 31, 33, 63, 65, 100, 576, 1000, 4097}) {
    auto a = random_floats(rng, n), b = random_floats(rng, n);
    std::vector<uint16_t> h(n);
    for (size_t i = 0; i < n; ++i) {
      uint32_t bits;
      std::memcpy(&bits, &a[i], 4);
      h[i] = static_cast<uint16_t>(bits >> 16);  // truncation is a valid bf16 value too
      a[i] = bf16_to_fp32(h[i]);
    }
    const float want = generic_cpu_kernels().dot_bf16_f32(h.data(), b.data(), n);
    double exact = 0;
    for (size_t i = 0; i < n; ++i) exact += double(a[i]) * b[i];
    EXPECT_NEAR(want, exact, 5e-5 * abs_products(a, b) + 1e-6) << n;
    for (const CpuKernels* k : optimized_sets()) {
      EXPECT_NEAR(k->dot_bf16_f32(h.data(), b.data(), n), want, 5e-5 * abs_products(a, b) + 1e-6)
          << k->isa << " n=" << n;
    }
  }
}

}  // namespace
}  // namespace sy::engine::kernels
