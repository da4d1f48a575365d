// The multi-row matvec and row-group kernels of every kernel set against the generic dot: for
// Q8_0 and Q4_0 every output must equal the generic dot of its row bit for bit (the per-block
// contract in cpu_kernels.h that keeps every set identical and matvec and matmul batch
// invariant); float matvecs equal their own set's dots. Row counts around the kernels' row
// groups, widths around their unrolling, random quants that include the extremes.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/row_groups.h"
#include "kernels/cpu/side_prefetch.h"
#include "local_engine/kernels/kernel_test_support.h"
#include "switchyard/local_engine/engine_error.h"

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
        const CpuKernels& g = generic_cpu_kernels();
        for (size_t r = 0; r < rows; ++r) {
          const float want8 = g.dot_q8_0_q8_0(w8.data() + r * blocks, x.data(), blocks);
          const float want4 = g.dot_q4_0_q8_0(w4.data() + r * blocks, x.data(), blocks);
          EXPECT_TRUE(same_bits(out8[r], want8))
              << k->isa << " q8_0 rows=" << rows << " blocks=" << blocks << " r=" << r;
          EXPECT_TRUE(same_bits(out4[r], want4))
              << k->isa << " q4_0 rows=" << rows << " blocks=" << blocks << " r=" << r;
          EXPECT_TRUE(same_bits(k->dot_q8_0_q8_0(w8.data() + r * blocks, x.data(), blocks), want8))
              << k->isa << " q8_0 dot rows=" << rows << " blocks=" << blocks << " r=" << r;
          EXPECT_TRUE(same_bits(k->dot_q4_0_q8_0(w4.data() + r * blocks, x.data(), blocks), want4))
              << k->isa << " q4_0 dot rows=" << rows << " blocks=" << blocks << " r=" << r;
        }
        EXPECT_EQ(out8[rows], -7.0f) << "wrote past the last row";
        EXPECT_EQ(out4[rows], -7.0f) << "wrote past the last row";
      }
    }
  }
}

// The contract itself, written out: the generic dots are one fma per block over the exact
// integer block sums, blocks in order.
TEST(MatvecKernels, GenericDotsFollowThePerBlockChain) {
  std::mt19937 rng(41);
  for (size_t blocks : {1, 2, 3, 17, 48}) {
    const auto x = random_q8_0(rng, blocks, true);
    const auto w8 = random_q8_0(rng, blocks, false);
    const auto w4 = random_q4_0(rng, blocks);
    float acc8 = 0, acc4 = 0;
    for (size_t b = 0; b < blocks; ++b) {
      int32_t i8 = 0, i4 = 0;
      for (size_t j = 0; j < 32; ++j) {
        i8 += w8[b].qs[j] * x[b].qs[j];
        const int nibble = j < 16 ? w4[b].qs[j] & 0x0F : w4[b].qs[j - 16] >> 4;
        i4 += (nibble - 8) * x[b].qs[j];
      }
      const float xd = fp16_to_fp32(x[b].d);
      acc8 = std::fma(static_cast<float>(i8), fp16_to_fp32(w8[b].d) * xd, acc8);
      acc4 = std::fma(static_cast<float>(i4), fp16_to_fp32(w4[b].d) * xd, acc4);
    }
    EXPECT_TRUE(same_bits(generic_cpu_kernels().dot_q8_0_q8_0(w8.data(), x.data(), blocks), acc8));
    EXPECT_TRUE(same_bits(generic_cpu_kernels().dot_q4_0_q8_0(w4.data(), x.data(), blocks), acc4));
  }
}

// The row-group kernels of every set against the generic dot on the row-major rows: every
// (row, token) output bit for bit, for 1-3 groups, odd block counts, token counts around the
// register tiles (1-9, 16, 66), any weight byte; nothing written outside the outputs. The Q4_0
// products run with a side prefetch (over the activations), which changes nothing.
TEST(MatmulKernels, RowGroupProductsEqualTheGenericDotBitForBit) {
  std::mt19937 rng(37);
  constexpr size_t kTokenCounts[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 66};
  const CpuKernels& gen = generic_cpu_kernels();
  for (const CpuKernels* k : all_sets()) {
    for (size_t groups : {1, 3}) {
      for (size_t blocks : {1, 2, 3, 18, 33}) {
        for (size_t tokens : kTokenCounts) {
          const size_t rows = groups * kGroupRows;
          const auto x = random_q8_0(rng, tokens * blocks, true);
          std::vector<ActivationQ8> act(tokens * blocks);
          pack_activations_q8(x.data(), tokens * blocks, act.data());
          const auto w8 = random_q8_0(rng, rows * blocks, false);
          const auto w4 = random_q4_0(rng, rows * blocks);
          auto g8 = w8;
          auto g4 = w4;
          regroup(TensorType::q8_0, 32 * blocks, g8.data(), g8.data(), groups);  // in place
          regroup(TensorType::q4_0, 32 * blocks, g4.data(), g4.data(), groups);
          const size_t stride = rows + 2;  // a gap after each token's outputs
          std::vector<float> out8(tokens * stride, -7.0f), out4(tokens * stride, -7.0f);
          k->matmul_q8_0_groups(reinterpret_cast<const RowGroupQ8_0*>(g8.data()), groups, blocks,
                                act.data(), tokens, out8.data(), stride, nullptr);
          SidePrefetch side;
          side.add(act.data(), act.size() * sizeof(ActivationQ8) / 2);
          side.add(x.data(), x.size() * sizeof(BlockQ8_0));
          side.pace(groups * blocks);
          k->matmul_q4_0_groups(reinterpret_cast<const RowGroupQ4_0*>(g4.data()), groups, blocks,
                                act.data(), tokens, out4.data(), stride, &side);
          // The vector sets step once per block of each group's first tile (the generic set,
          // the oracle, takes no hints).
          if (k != &gen) ASSERT_TRUE(side.done()) << k->isa << " stepped too little";
          for (size_t t = 0; t < tokens; ++t) {
            const BlockQ8_0* xt = x.data() + t * blocks;
            for (size_t r = 0; r < rows; ++r) {
              ASSERT_TRUE(same_bits(out8[t * stride + r],
                                    gen.dot_q8_0_q8_0(w8.data() + r * blocks, xt, blocks)))
                  << k->isa << " q8_0 groups=" << groups << " blocks=" << blocks
                  << " T=" << tokens << " r=" << r << " t=" << t;
              ASSERT_TRUE(same_bits(out4[t * stride + r],
                                    gen.dot_q4_0_q8_0(w4.data() + r * blocks, xt, blocks)))
                  << k->isa << " q4_0 groups=" << groups << " blocks=" << blocks
                  << " T=" << tokens << " r=" << r << " t=" << t;
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

// Regrouping is a permutation: every row of every group comes back byte for byte.
TEST(RowGroups, UngroupRowRestoresEveryRow) {
  std::mt19937 rng(43);
  const size_t blocks = 5, groups = 2, rows = groups * kGroupRows;
  const auto w8 = random_q8_0(rng, rows * blocks, false);
  const auto w4 = random_q4_0(rng, rows * blocks);
  std::vector<BlockQ8_0> g8(w8.size());
  std::vector<BlockQ4_0> g4(w4.size());
  regroup(TensorType::q8_0, 32 * blocks, w8.data(), g8.data(), groups);  // out of place
  regroup(TensorType::q4_0, 32 * blocks, w4.data(), g4.data(), groups);
  for (size_t r = 0; r < rows; ++r) {
    std::vector<BlockQ8_0> row8(blocks);
    std::vector<BlockQ4_0> row4(blocks);
    const size_t g = r / kGroupRows, i = r % kGroupRows;
    ungroup_row(TensorType::q8_0, 32 * blocks, g8.data() + g * kGroupRows * blocks, i,
                row8.data());
    ungroup_row(TensorType::q4_0, 32 * blocks, g4.data() + g * kGroupRows * blocks, i,
                row4.data());
    EXPECT_EQ(std::memcmp(row8.data(), w8.data() + r * blocks, blocks * sizeof(BlockQ8_0)), 0);
    EXPECT_EQ(std::memcmp(row4.data(), w4.data() + r * blocks, blocks * sizeof(BlockQ4_0)), 0);
  }
  EXPECT_THROW(group_bytes(TensorType::q6_k, 256), EngineError);
  EXPECT_THROW(group_bytes(TensorType::q4_k, 96), EngineError);
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

// Paced over n steps, a side prefetch asks for every line of its spans by step n / 2 (so they
// land before the kernel that steps it ends), a few lines a step rather than in one burst, and
// counts every line a span touches (an unaligned start or end takes its partial lines too).
TEST(SidePrefetch, SpreadsEveryLineOverTheFirstHalfOfItsSteps) {
  alignas(64) static char a[64 * 40];
  for (size_t steps : {1, 2, 7, 80, 1000}) {
    SidePrefetch side;
    side.add(a, 64 * 37 + 5);        // 38 lines
    side.add(a, 0);                  // nothing
    side.add(a + 64 * 38 + 32, 64);  // straddles two lines
    ASSERT_EQ(side.lines(), 40u);
    ASSERT_EQ(side.spans().size(), 2u);
    EXPECT_EQ(side.spans()[1].begin, a + 64 * 38);
    side.pace(steps);
    const size_t per_step = (2 * 40 + steps - 1) / steps;
    const size_t needed = (40 + per_step - 1) / per_step;
    EXPECT_LE(needed, (steps + 1) / 2) << steps;
    for (size_t s = 0; s + 1 < needed; ++s) side.step();
    EXPECT_FALSE(side.done()) << steps;  // not all at once
    side.step();
    EXPECT_TRUE(side.done()) << steps;
    side.step();  // nothing left: a no-op
    EXPECT_TRUE(side.done());
  }
}

}  // namespace
}  // namespace sy::engine::kernels
