// Every kernel set the processor supports against the generic one, on random inputs of awkward
// sizes (not multiples of the vector width or of the unrolling).
//
// Stated error bounds:
//  * float dots (f32, f16 weights): |isa - generic| <= 5e-5 * sum|a_i * b_i| + 1e-6
//    (only the summation order differs);
//  * Q8_0 / Q4_0 dots: bit for bit (the per-block contract of cpu_kernels.h leaves no freedom);
//  * quantization itself: Q8_0 elements within 0.5 * d (+ fp16 rounding of d), and a Q8_0 x Q8_0
//    dot within 1% of the F32 dot, normalized by |w| * |x|.

#include "kernels/cpu/cpu_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/dequantize.h"
#include "local_engine/kernels/kernel_test_support.h"

namespace sy::engine::kernels {
namespace {

using testing::optimized_sets;
using testing::random_floats;

double abs_products(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::fabs(double(a[i]) * b[i]);
  return s;
}

constexpr size_t kFloatSizes[] = {1, 7, 8, 15, 16, 17, 31, 33, 63, 100, 576, 1000, 4097};
constexpr size_t kBlockCounts[] = {1, 2, 3, 5, 17, 18, 48, 101};

TEST(CpuKernels, SelectionPicksASupportedSet) {
  const CpuKernels& k = select_cpu_kernels();
  EXPECT_FALSE(k.isa.empty());
  EXPECT_EQ(generic_cpu_kernels().isa, "generic");
  std::printf("selected kernels: %.*s\n", static_cast<int>(k.isa.size()), k.isa.data());
}

TEST(CpuKernels, ReadLinesSumsEveryWordOnEverySet) {
  // The bandwidth read's sum (integers: exact in any order) from an unaligned start, so that no
  // set may read past `bytes` or skip a tail of 128 bytes.
  std::mt19937_64 rng(5);
  std::vector<uint64_t> words(4096 + 1);
  for (uint64_t& w : words) w = rng();
  const auto* p = reinterpret_cast<const std::byte*>(words.data()) + 8;
  for (size_t bytes : {size_t{0}, size_t{256}, size_t{768}, size_t{32768}}) {
    uint64_t want = 0;
    for (size_t i = 0; i < bytes / 8; ++i) want += words[i + 1];
    EXPECT_EQ(generic_cpu_kernels().read_lines(p, bytes), want) << bytes;
    for (const CpuKernels* set : optimized_sets()) {
      EXPECT_EQ(set->read_lines(p, bytes), want) << set->isa << " " << bytes;
    }
  }
}

TEST(CpuKernels, F32DotMatchesGenericWithinBound) {
  std::mt19937 rng(1);
  for (const CpuKernels* k : optimized_sets()) {
    for (size_t n : kFloatSizes) {
      auto a = random_floats(rng, n), b = random_floats(rng, n);
      const float want = generic_cpu_kernels().dot_f32(a.data(), b.data(), n);
      const float got = k->dot_f32(a.data(), b.data(), n);
      EXPECT_NEAR(got, want, 5e-5 * abs_products(a, b) + 1e-6) << k->isa << " n=" << n;
    }
  }
}

TEST(CpuKernels, F16DotMatchesGenericWithinBound) {
  std::mt19937 rng(2);
  for (const CpuKernels* k : optimized_sets()) {
    for (size_t n : kFloatSizes) {
      auto a = random_floats(rng, n), b = random_floats(rng, n);
      std::vector<uint16_t> h(n);
      for (size_t i = 0; i < n; ++i) {
        h[i] = fp32_to_fp16(a[i]);
        a[i] = fp16_to_fp32(h[i]);
      }
      const float want = generic_cpu_kernels().dot_f16_f32(h.data(), b.data(), n);
      const float got = k->dot_f16_f32(h.data(), b.data(), n);
      EXPECT_NEAR(got, want, 5e-5 * abs_products(a, b) + 1e-6) << k->isa << " n=" << n;
    }
  }
}

struct Quantized {
  std::vector<BlockQ8_0> x8;
  std::vector<BlockQ8_0> w8;
  std::vector<BlockQ4_0> w4;
  std::vector<float> x, w8f, w4f, xf;  // originals and dequantized copies
};

Quantized make_quantized(std::mt19937& rng, size_t blocks) {
  Quantized q;
  const size_t n = blocks * 32;
  q.x = random_floats(rng, n);
  auto w = random_floats(rng, n, 0.05f);
  q.x8.resize(blocks);
  q.w8.resize(blocks);
  q.w4.resize(blocks);
  quantize_row_q8_0(q.x.data(), q.x8.data(), n);
  quantize_row_q8_0(w.data(), q.w8.data(), n);
  quantize_row_q4_0(w.data(), q.w4.data(), n);
  q.xf.resize(n);
  q.w8f.resize(n);
  q.w4f.resize(n);
  auto bytes = [](const auto& v) {
    return std::span(reinterpret_cast<const std::byte*>(v.data()), v.size() * sizeof(v[0]));
  };
  dequantize(TensorType::q8_0, bytes(q.x8), q.xf);
  dequantize(TensorType::q8_0, bytes(q.w8), q.w8f);
  dequantize(TensorType::q4_0, bytes(q.w4), q.w4f);
  return q;
}

TEST(CpuKernels, QuantizedDotsEqualGenericBitForBit) {
  std::mt19937 rng(3);
  for (const CpuKernels* k : optimized_sets()) {
    for (size_t blocks : kBlockCounts) {
      Quantized q = make_quantized(rng, blocks);
      const float want8 = generic_cpu_kernels().dot_q8_0_q8_0(q.w8.data(), q.x8.data(), blocks);
      EXPECT_EQ(k->dot_q8_0_q8_0(q.w8.data(), q.x8.data(), blocks), want8)
          << k->isa << " blocks=" << blocks;
      const float want4 = generic_cpu_kernels().dot_q4_0_q8_0(q.w4.data(), q.x8.data(), blocks);
      EXPECT_EQ(k->dot_q4_0_q8_0(q.w4.data(), q.x8.data(), blocks), want4)
          << k->isa << " blocks=" << blocks;
    }
  }
}

TEST(CpuKernels, GenericQuantizedDotsEqualTheDotOfDequantizedValues) {
  std::mt19937 rng(4);
  for (size_t blocks : kBlockCounts) {
    Quantized q = make_quantized(rng, blocks);
    const size_t n = blocks * 32;
    double exact8 = 0, exact4 = 0;
    for (size_t i = 0; i < n; ++i) {
      exact8 += double(q.w8f[i]) * q.xf[i];
      exact4 += double(q.w4f[i]) * q.xf[i];
    }
    const auto& g = generic_cpu_kernels();
    EXPECT_NEAR(g.dot_q8_0_q8_0(q.w8.data(), q.x8.data(), blocks), exact8,
                5e-5 * abs_products(q.w8f, q.xf) + 1e-6);
    EXPECT_NEAR(g.dot_q4_0_q8_0(q.w4.data(), q.x8.data(), blocks), exact4,
                5e-5 * abs_products(q.w4f, q.xf) + 1e-6);
  }
}

TEST(CpuKernels, Q8_0QuantizationErrorIsBounded) {
  std::mt19937 rng(5);
  for (size_t blocks : kBlockCounts) {
    Quantized q = make_quantized(rng, blocks);
    for (size_t b = 0; b < blocks; ++b) {
      const float d = fp16_to_fp32(q.x8[b].d);
      for (size_t j = 0; j < 32; ++j) {
        EXPECT_LE(std::fabs(q.xf[b * 32 + j] - q.x[b * 32 + j]),
                  0.5f * d + 2e-3f * std::fabs(q.x[b * 32 + j]) + 1e-7f);
      }
    }
    // The whole dot: within 1% of the F32 dot, normalized by |w| * |x|.
    double wn = 0, xn = 0, exact = 0;
    std::vector<float> w(q.w8f.size());
    for (size_t i = 0; i < w.size(); ++i) {
      exact += double(q.w8f[i]) * q.x[i];
      wn += double(q.w8f[i]) * q.w8f[i];
      xn += double(q.x[i]) * q.x[i];
    }
    const float got = select_cpu_kernels().dot_q8_0_q8_0(q.w8.data(), q.x8.data(), blocks);
    EXPECT_LE(std::fabs(got - exact) / std::sqrt(wn * xn), 0.01);
  }
}

TEST(CpuKernels, Q4_0QuantizationErrorIsBounded) {
  // The largest magnitude maps to -8 exactly; values of the other sign clamp at +7, so every
  // element is within |d| (plus fp16 rounding of d) of its original.
  std::mt19937 rng(6);
  for (size_t blocks : kBlockCounts) {
    Quantized q = make_quantized(rng, blocks);
    // Against the Q8_0 copy of the same weights (itself within d8/2 of the originals).
    for (size_t b = 0; b < blocks; ++b) {
      const float d4 = std::fabs(fp16_to_fp32(q.w4[b].d));
      const float d8 = std::fabs(fp16_to_fp32(q.w8[b].d));
      for (size_t j = 0; j < 32; ++j) {
        const size_t i = b * 32 + j;
        EXPECT_LE(std::fabs(q.w4f[i] - q.w8f[i]), d4 * 1.01f + 0.5f * d8 + 1e-7f);
      }
    }
  }
}

TEST(CpuKernels, HandlesExtremeWeightQuantsWithoutSaturating) {
  // A file may hold -128 weights; activations from quantize_row_q8_0 stay within +-127.
  std::vector<BlockQ8_0> w(3), x(3);
  for (size_t b = 0; b < 3; ++b) {
    w[b].d = fp32_to_fp16(1.0f);
    x[b].d = fp32_to_fp16(1.0f);
    for (int j = 0; j < 32; ++j) {
      w[b].qs[j] = j % 2 ? -128 : 127;
      x[b].qs[j] = j % 3 ? 127 : -127;
    }
  }
  const float want = generic_cpu_kernels().dot_q8_0_q8_0(w.data(), x.data(), 3);
  for (const CpuKernels* k : optimized_sets()) {
    EXPECT_EQ(k->dot_q8_0_q8_0(w.data(), x.data(), 3), want) << k->isa;
  }
}

}  // namespace
}  // namespace sy::engine::kernels
