// Q4_K x Q8_K under the contract of cpu_kernels.h (one chain of two fmas per super-block over
// exact int32 sums): every set's dot, row-group kernel and row-major matmul against the GENERIC
// dot, BIT FOR BIT, over awkward sizes: 1..9 super-blocks, 1..3 groups, 1..20 row-major rows (not
// multiples of 16), token counts up to 66 (not multiples of the 4-token tile) and, with wide
// rows, more tokens than one chunk of activations holds. Weights are raw random bytes, so every
// 6-bit scale and min (0 and 63 included) and every nibble occur, plus blocks of all-63 scales;
// activations include all-zero and saturated (+-127) tokens.

#include "kernels/cpu/matmul_q4_k.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/row_groups.h"
#include "kernels/cpu/side_prefetch.h"
#include "local_engine/kernels/kernel_test_support.h"

namespace sy::engine::kernels {
namespace {

std::vector<const CpuKernels*> all_sets() {
  std::vector<const CpuKernels*> sets = {&generic_cpu_kernels()};
  for (const CpuKernels* k : testing::optimized_sets()) sets.push_back(k);
  return sets;
}

size_t differing(const std::vector<float>& got, const std::vector<float>& want) {
  size_t differ = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &got[i], 4);
    std::memcpy(&b, &want[i], 4);
    differ += a != b;
  }
  return differ;
}

// Random blocks: every byte of scales and qs uniform, d and dmin of either sign and a spread of
// magnitudes (the dot's float steps must match, not just its integers). Every 5th block has all
// scales and mins at 63, the largest 6-bit value.
std::vector<BlockQ4_K> random_weights(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> scale(0.0f, 0.02f);
  std::vector<BlockQ4_K> w(n);
  for (size_t i = 0; i < n; ++i) {
    BlockQ4_K& b = w[i];
    for (auto& v : b.scales) v = static_cast<uint8_t>(byte(rng));
    for (auto& v : b.qs) v = static_cast<uint8_t>(byte(rng));
    if (i % 5 == 3) std::memset(b.scales, 0xFF, sizeof(b.scales));
    b.d = fp32_to_fp16(scale(rng));
    b.dmin = fp32_to_fp16(scale(rng));
  }
  return w;
}

// n_tokens rows of n_blocks Q8_K blocks: normal values, token 1 all zeros, token 2 saturated
// (every quant +-127), each row at its own scale.
std::vector<BlockQ8_K> random_activations(std::mt19937& rng, size_t n_tokens, size_t n_blocks) {
  const size_t cols = n_blocks * kQK;
  std::vector<BlockQ8_K> x(n_tokens * n_blocks);
  for (size_t t = 0; t < n_tokens; ++t) {
    std::vector<float> v = testing::random_floats(rng, cols, std::ldexp(1.0f, int(t % 7) - 3));
    if (t == 1) v.assign(cols, 0.0f);
    if (t == 2) {
      for (size_t i = 0; i < cols; ++i) v[i] = (i * 7) % 3 == 0 ? -5.0f : 5.0f;
    }
    quantize_row_q8_k(v.data(), x.data() + t * n_blocks, cols);
  }
  return x;
}

// want[t * stride + r]: the generic dot of row r and token t; -7 in the columns past n_rows.
std::vector<float> generic_dots(const std::vector<BlockQ4_K>& w, size_t n_rows, size_t n_blocks,
                                const std::vector<BlockQ8_K>& x, size_t n_tokens, size_t stride) {
  const CpuKernels& g = generic_cpu_kernels();
  std::vector<float> want(n_tokens * stride, -7.0f);
  for (size_t t = 0; t < n_tokens; ++t) {
    for (size_t r = 0; r < n_rows; ++r) {
      want[t * stride + r] =
          g.dot_q4_k_q8_k(w.data() + r * n_blocks, x.data() + t * n_blocks, n_blocks);
    }
  }
  return want;
}

TEST(MatmulQ4K, EverySetsDotEqualsTheGenericDotBitForBit) {
  std::mt19937 rng(37);
  for (size_t n_blocks : {1, 2, 3, 8, 33}) {
    const auto w = random_weights(rng, 5 * n_blocks);
    const auto x = random_activations(rng, 4, n_blocks);
    const auto want = generic_dots(w, 5, n_blocks, x, 4, 5);
    for (const CpuKernels* k : testing::optimized_sets()) {
      std::vector<float> got(4 * 5);
      for (size_t t = 0; t < 4; ++t) {
        for (size_t r = 0; r < 5; ++r) {
          got[t * 5 + r] =
              k->dot_q4_k_q8_k(w.data() + r * n_blocks, x.data() + t * n_blocks, n_blocks);
        }
      }
      EXPECT_EQ(differing(got, want), 0u) << k->isa << " blocks=" << n_blocks;
    }
  }
}

// Every set's quantize_q8_k against quantize_row_q8_k byte for byte: normal values at many
// scales, an all-zero block, a block whose largest magnitude is subnormal, exact halves.
TEST(MatmulQ4K, EverySetsQ8KQuantizerMatchesQuantizeRowQ8KByteForByte) {
  std::mt19937 rng(33);
  for (size_t blocks : {1, 2, 8, 32}) {
    std::vector<float> x;
    for (size_t b = 0; b < blocks; ++b) {
      auto v = testing::random_floats(rng, kQK, std::ldexp(1.0f, int(b % 9) * 3 - 12));
      if (b == 1) v.assign(kQK, 0.0f);
      if (b == 2) {
        for (size_t i = 0; i < kQK; ++i) v[i] = std::ldexp(float(int(i) - 128), -140);
      }
      if (b == 3) {
        for (size_t i = 0; i < kQK; ++i) v[i] = (float(int(i % 255) - 127) + 0.5f) / 2.0f;
      }
      x.insert(x.end(), v.begin(), v.end());
    }
    std::vector<BlockQ8_K> want(blocks);
    quantize_row_q8_k(x.data(), want.data(), x.size());
    for (const CpuKernels* k : all_sets()) {
      std::vector<BlockQ8_K> got(blocks);
      std::memset(got.data(), 0x5A, got.size() * sizeof(BlockQ8_K));
      k->quantize_q8_k(x.data(), got.data(), x.size());
      EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(BlockQ8_K)), 0)
          << k->isa << " blocks=" << blocks;
    }
  }
}

TEST(MatmulQ4K, RegroupedRowsComeBackByteForByte) {
  std::mt19937 rng(39);
  const size_t n_blocks = 3, rows = 2 * kGroupRows;
  const auto w = random_weights(rng, rows * n_blocks);
  std::vector<BlockQ4_K> g = w;
  regroup(TensorType::q4_k, n_blocks * kQK, g.data(), g.data(), 2);  // in place
  EXPECT_NE(std::memcmp(g.data(), w.data(), w.size() * sizeof(BlockQ4_K)), 0);
  std::vector<BlockQ4_K> row(n_blocks);
  for (size_t r = 0; r < rows; ++r) {
    ungroup_row(TensorType::q4_k, n_blocks * kQK, g.data() + r / kGroupRows * kGroupRows * n_blocks,
                r % kGroupRows, row.data());
    EXPECT_EQ(std::memcmp(row.data(), w.data() + r * n_blocks, n_blocks * sizeof(BlockQ4_K)), 0);
  }
}

void expect_groups_equal_dot(const CpuKernels& k, size_t n_blocks, size_t n_groups, size_t n_tokens,
                             std::mt19937& rng) {
  const size_t n_rows = n_groups * kGroupRows;
  const auto w = random_weights(rng, n_rows * n_blocks);
  const auto x = random_activations(rng, n_tokens, n_blocks);
  // A wider output stride than n_rows: the kernel must write only its own columns.
  const size_t stride = n_rows + 3;
  const auto want = generic_dots(w, n_rows, n_blocks, x, n_tokens, stride);
  std::vector<BlockQ4_K> g(w.size());
  regroup(TensorType::q4_k, n_blocks * kQK, w.data(), g.data(), n_groups);
  std::vector<float> got(n_tokens * stride, -7.0f);
  SidePrefetch side;  // asks for the row-major copy: hints only, no output changes
  side.add(w.data(), w.size() * sizeof(BlockQ4_K));
  side.pace(n_groups * n_blocks);
  k.matmul_q4_k_groups(reinterpret_cast<const RowGroupQ4_K*>(g.data()), n_groups, n_blocks,
                       x.data(), n_tokens, got.data(), stride, &side);
  if (&k != &generic_cpu_kernels()) EXPECT_TRUE(side.done()) << k.isa << " stepped too little";
  EXPECT_EQ(differing(got, want), 0u)
      << k.isa << " blocks=" << n_blocks << " groups=" << n_groups << " tokens=" << n_tokens;
}

TEST(MatmulQ4K, GroupKernelsEqualTheGenericDotBitForBitOverAwkwardSizes) {
  std::mt19937 rng(41);
  for (const CpuKernels* k : all_sets()) {
    for (size_t n_blocks = 1; n_blocks <= 9; ++n_blocks) {
      for (size_t n_groups = 1; n_groups <= 3; ++n_groups) {
        for (size_t n_tokens : {1, 2, 3, 4, 5, 7, 8, 13, 66}) {
          if (k->isa == "generic" && n_tokens > 8) continue;  // slow, and the same code
          expect_groups_equal_dot(*k, n_blocks, n_groups, n_tokens, rng);
        }
      }
    }
  }
}

// 33 and 64 super-blocks a row: 66 tokens take more than one chunk of activations.
TEST(MatmulQ4K, GroupKernelsEqualTheDotAcrossTokenChunks) {
  std::mt19937 rng(43);
  for (const CpuKernels* k : testing::optimized_sets()) {
    expect_groups_equal_dot(*k, 33, 1, 66, rng);
    expect_groups_equal_dot(*k, 64, 2, 66, rng);
  }
}

TEST(MatmulQ4K, RowMajorMatmulEqualsTheGenericDotBitForBit) {
  std::mt19937 rng(45);
  for (const CpuKernels* k : testing::optimized_sets()) {
    if (k->matmul_q4_k_q8_k == nullptr) continue;
    for (size_t n_blocks : {1, 2, 5}) {
      for (size_t n_rows : {1, 7, 15, 16, 17, 20}) {
        for (size_t n_tokens : {1, 5, 13}) {
          const auto w = random_weights(rng, n_rows * n_blocks);
          const auto x = random_activations(rng, n_tokens, n_blocks);
          const size_t stride = n_rows + 3;
          const auto want = generic_dots(w, n_rows, n_blocks, x, n_tokens, stride);
          std::vector<float> got(n_tokens * stride, -7.0f);
          k->matmul_q4_k_q8_k(w.data(), n_rows, n_blocks, x.data(), n_tokens, got.data(), stride);
          EXPECT_EQ(differing(got, want), 0u)
              << k->isa << " blocks=" << n_blocks << " rows=" << n_rows << " tokens=" << n_tokens;
        }
      }
    }
  }
}

// The dispatch: matmul() and matvec() over Q4_K, row-major and grouped (37 rows: two groups and
// a row-major tail), split over row ranges that cut groups as the thread pool does, equal the
// generic set's per-token matvec on the row-major matrix, for every set.
TEST(MatmulQ4K, MatmulAndMatvecOverRowRangesEqualTheGenericMatvec) {
  std::mt19937 rng(47);
  const size_t rows = 37, cols = 5 * kQK, n = 19;
  const auto wv = testing::random_floats(rng, rows * cols, 0.05f);
  const auto xv = testing::random_floats(rng, n * cols);
  std::vector<BlockQ4_K> w(rows * cols / kQK);
  quantize_row_q4_k(wv.data(), w.data(), wv.size());
  std::vector<BlockQ4_K> g = w;
  regroup(TensorType::q4_k, cols, g.data(), g.data(), rows / kGroupRows);
  const MatrixView view{TensorType::q4_k, w.data(), rows, cols};
  const MatrixView grouped{TensorType::q4_k, g.data(), rows, cols, true};
  std::vector<float> want(n * rows);
  MatvecScratch scratch;
  for (size_t t = 0; t < n; ++t) {
    matvec(generic_cpu_kernels(), view, xv.data() + t * cols, want.data() + t * rows, scratch);
  }
  for (const CpuKernels* k : all_sets()) {
    for (const MatrixView& m : {view, grouped}) {
      std::vector<float> got(n * rows, -1.0f);
      ActivationBatch batch;
      prepare_batch(m, xv.data(), n, batch);
      quantize_batch(m, batch, 0, n);
      matmul(*k, m, batch, got.data(), 0, 9);
      matmul(*k, m, batch, got.data(), 9, 35);
      matmul(*k, m, batch, got.data(), 35, rows);
      EXPECT_EQ(got, want) << k->isa << " grouped=" << m.grouped;
      std::vector<float> one(n * rows, -1.0f);
      for (size_t t = 0; t < n; ++t) {
        matvec(*k, m, xv.data() + t * cols, one.data() + t * rows, scratch, 0, 20);
        matvec(*k, m, xv.data() + t * cols, one.data() + t * rows, scratch, 20, rows);
      }
      EXPECT_EQ(one, want) << k->isa << " grouped=" << m.grouped << " (matvec)";
    }
  }
}

}  // namespace
}  // namespace sy::engine::kernels
