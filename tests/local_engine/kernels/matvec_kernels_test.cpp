// The multi-row matvec kernels of every kernel set against that set's own single-row dots: each
// output must equal the dot of its row bit for bit (the contract in cpu_kernels.h that keeps
// matvec and matmul batch invariant), for row counts around the kernels' row groups and widths
// around their unrolling, on random quants that include the extremes.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "local_engine/kernels/kernel_test_support.h"

namespace sy::engine::kernels {
namespace {

using testing::random_floats;

std::vector<const CpuKernels*> all_sets() {
  std::vector<const CpuKernels*> sets = testing::optimized_sets();
  sets.insert(sets.begin(), &generic_cpu_kernels());
  return sets;
}

constexpr size_t kRowCounts[] = {1, 2, 3, 4, 5, 7, 8, 9, 13};
constexpr size_t kBlockCounts[] = {1, 2, 3, 17, 18, 48};
constexpr size_t kFloatWidths[] = {1, 7, 16, 17, 31, 33, 63, 64, 100, 576, 1000};

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Weights as a file may hold them: any quant byte (Q8_0 -128 included), fp16 scales of either
// sign; activations as quantize_row_q8_0 makes them (within +-127).
std::vector<BlockQ8_0> random_q8_0(std::mt19937& rng, size_t n, bool activations) {
  std::uniform_int_distribution<int> q(activations ? -127 : -128, 127);
  std::normal_distribution<float> d(0.0f, 0.01f);
  std::vector<BlockQ8_0> blocks(n);
  for (auto& b : blocks) {
    b.d = fp32_to_fp16(d(rng));
    for (auto& v : b.qs) v = static_cast<int8_t>(q(rng));
  }
  return blocks;
}

std::vector<BlockQ4_0> random_q4_0(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> d(0.0f, 0.01f);
  std::vector<BlockQ4_0> blocks(n);
  for (auto& b : blocks) {
    b.d = fp32_to_fp16(d(rng));
    for (auto& v : b.qs) v = static_cast<uint8_t>(byte(rng));
  }
  return blocks;
}

TEST(MatvecKernels, QuantizedRowsEqualTheirSetsDotBitForBit) {
  std::mt19937 rng(31);
  for (const CpuKernels* k : all_sets()) {
    for (size_t rows : kRowCounts) {
      for (size_t blocks : kBlockCounts) {
        const auto x = random_q8_0(rng, blocks, true);
        const auto w8 = random_q8_0(rng, rows * blocks, false);
        const auto w4 = random_q4_0(rng, rows * blocks);
        std::vector<float> out8(rows + 1, -7.0f), out4(rows + 1, -7.0f);
        k->matvec_q8_0_q8_0(w8.data(), rows, x.data(), blocks, out8.data());
        k->matvec_q4_0_q8_0(w4.data(), rows, x.data(), blocks, out4.data());
        for (size_t r = 0; r < rows; ++r) {
          EXPECT_TRUE(
              same_bits(out8[r], k->dot_q8_0_q8_0(w8.data() + r * blocks, x.data(), blocks)))
              << k->isa << " q8_0 rows=" << rows << " blocks=" << blocks << " r=" << r;
          EXPECT_TRUE(
              same_bits(out4[r], k->dot_q4_0_q8_0(w4.data() + r * blocks, x.data(), blocks)))
              << k->isa << " q4_0 rows=" << rows << " blocks=" << blocks << " r=" << r;
        }
        EXPECT_EQ(out8[rows], -7.0f) << "wrote past the last row";
        EXPECT_EQ(out4[rows], -7.0f) << "wrote past the last row";
      }
    }
  }
}

// The tiled matmul kernels (where a set has them) against the set's dots: every (row, token)
// output bit for bit, for row and token counts around the 4 x 4 tile and the 64-token chunk,
// odd block counts (the half pair), any weight byte; nothing written outside the outputs.
TEST(MatmulKernels, TiledProductsEqualTheirSetsDotBitForBit) {
  std::mt19937 rng(37);
  constexpr size_t kTokenCounts[] = {1, 2, 3, 4, 5, 8, 66};
  for (const CpuKernels* k : all_sets()) {
    if (k->matmul_q8_0_q8_0 == nullptr) continue;
    ASSERT_NE(k->matmul_q4_0_q8_0, nullptr) << k->isa;
    for (size_t rows : {1, 3, 4, 5, 9, 13}) {
      for (size_t blocks : {1, 2, 3, 18, 33}) {
        for (size_t tokens : kTokenCounts) {
          const size_t pairs = (blocks + 1) / 2;
          const auto x = random_q8_0(rng, tokens * blocks, true);
          std::vector<ActivationPairQ8> packed(tokens * pairs);
          for (size_t t = 0; t < tokens; ++t) {
            pack_activation_pairs(x.data() + t * blocks, blocks, packed.data() + t * pairs);
          }
          const auto w8 = random_q8_0(rng, rows * blocks, false);
          const auto w4 = random_q4_0(rng, rows * blocks);
          const size_t stride = rows + 2;  // a gap after each token's outputs
          std::vector<float> out8(tokens * stride, -7.0f), out4(tokens * stride, -7.0f);
          k->matmul_q8_0_q8_0(w8.data(), rows, blocks, packed.data(), tokens, out8.data(), stride);
          k->matmul_q4_0_q8_0(w4.data(), rows, blocks, packed.data(), tokens, out4.data(), stride);
          for (size_t t = 0; t < tokens; ++t) {
            const BlockQ8_0* xt = x.data() + t * blocks;
            for (size_t r = 0; r < rows; ++r) {
              ASSERT_TRUE(same_bits(out8[t * stride + r],
                                    k->dot_q8_0_q8_0(w8.data() + r * blocks, xt, blocks)))
                  << k->isa << " q8_0 rows=" << rows << " blocks=" << blocks << " T=" << tokens
                  << " r=" << r << " t=" << t;
              ASSERT_TRUE(same_bits(out4[t * stride + r],
                                    k->dot_q4_0_q8_0(w4.data() + r * blocks, xt, blocks)))
                  << k->isa << " q4_0 rows=" << rows << " blocks=" << blocks << " T=" << tokens
                  << " r=" << r << " t=" << t;
            }
            for (size_t r = rows; r < stride; ++r) {
              ASSERT_EQ(out8[t * stride + r], -7.0f) << "wrote outside the outputs";
              ASSERT_EQ(out4[t * stride + r], -7.0f) << "wrote outside the outputs";
            }
          }
        }
      }
    }
  }
}

TEST(MatvecKernels, HalfAndBf16RowsEqualTheirSetsDotBitForBit) {
  std::mt19937 rng(32);
  for (const CpuKernels* k : all_sets()) {
    for (size_t rows : kRowCounts) {
      for (size_t n : kFloatWidths) {
        const auto x = random_floats(rng, n);
        const auto values = random_floats(rng, rows * n, 0.1f);
        std::vector<uint16_t> f16(rows * n), bf16(rows * n);
        for (size_t i = 0; i < values.size(); ++i) {
          f16[i] = fp32_to_fp16(values[i]);
          bf16[i] = fp32_to_bf16(values[i]);
        }
        std::vector<float> out_f16(rows + 1, -7.0f), out_bf16(rows + 1, -7.0f);
        k->matvec_f16_f32(f16.data(), rows, x.data(), n, out_f16.data());
        k->matvec_bf16_f32(bf16.data(), rows, x.data(), n, out_bf16.data());
        for (size_t r = 0; r < rows; ++r) {
          EXPECT_TRUE(same_bits(out_f16[r], k->dot_f16_f32(f16.data() + r * n, x.data(), n)))
              << k->isa << " f16 rows=" << rows << " n=" << n << " r=" << r;
          EXPECT_TRUE(same_bits(out_bf16[r], k->dot_bf16_f32(bf16.data() + r * n, x.data(), n)))
              << k->isa << " bf16 rows=" << rows << " n=" << n << " r=" << r;
        }
        EXPECT_EQ(out_f16[rows], -7.0f) << "wrote past the last row";
        EXPECT_EQ(out_bf16[rows], -7.0f) << "wrote past the last row";
      }
    }
  }
}

TEST(MatvecKernels, VectorQuantizersMatchQuantizeRowQ8_0ByteForByte) {
  std::mt19937 rng(33);
  for (const CpuKernels* k : all_sets()) {
    for (size_t blocks : kBlockCounts) {
      auto x = random_floats(rng, blocks * 32, 3.0f);
      // Ties and edges: halves that std::round takes away from zero, a zero block, a block whose
      // largest magnitude is negative, values just under one half.
      // (A block whose largest magnitude is 127 has d = 1: its other values are the products.)
      for (size_t j = 0; j < 32 && blocks > 1; ++j) {
        x[j] = j == 31 ? 127.0f : (j % 2 ? -1.0f : 1.0f) * (static_cast<float>(j) + 0.5f);
        x[32 + j] = 0.0f;
      }
      if (blocks > 2) {
        x[64] = -9.0f;
        x[65] = std::nextafter(0.5f, 0.0f) * 9.0f / 127.0f;
      }
      std::vector<BlockQ8_0> want(blocks), got(blocks);
      quantize_row_q8_0(x.data(), want.data(), x.size());
      k->quantize_q8_0(x.data(), got.data(), x.size());
      EXPECT_EQ(std::memcmp(got.data(), want.data(), blocks * sizeof(BlockQ8_0)), 0)
          << k->isa << " blocks=" << blocks;
    }
  }
}

}  // namespace
}  // namespace sy::engine::kernels
