// The tiled Q4_K x Q8_K matmul of every kernel set that has one against that set's own dot, BIT
// FOR BIT (cpu_kernels.h's contract: matvec == matmul), over awkward sizes: 1..9 super-blocks
// (odd counts end in a half pair), 1..13 rows (not multiples of the 4-row tile), token counts
// up to 66 (not multiples of the 4-token tile) and, with wide rows, more tokens than one packed
// chunk holds. Weights are raw random bytes, so every 6-bit scale and min (0 and 63 included)
// and every nibble occur, plus blocks of all-63 scales; activations include all-zero and
// saturated (+-127) tokens.

#include "kernels/cpu/matmul_q4_k.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/matmul.h"
#include "local_engine/kernels/kernel_test_support.h"

namespace sy::engine::kernels {
namespace {

std::vector<const CpuKernels*> tiled_sets() {
  std::vector<const CpuKernels*> sets;
  for (const CpuKernels* k : testing::optimized_sets()) {
    if (k->matmul_q4_k_q8_k != nullptr) sets.push_back(k);
  }
  return sets;
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

void expect_tile_equals_dot(const CpuKernels& k, size_t n_blocks, size_t n_rows, size_t n_tokens,
                            std::mt19937& rng) {
  const auto w = random_weights(rng, n_rows * n_blocks);
  const auto x = random_activations(rng, n_tokens, n_blocks);
  // A wider output stride than n_rows: the kernel must write only its own columns.
  const size_t stride = n_rows + 3;
  std::vector<float> got(n_tokens * stride, -7.0f);
  k.matmul_q4_k_q8_k(w.data(), n_rows, n_blocks, x.data(), n_tokens, got.data(), stride);
  size_t differ = 0;
  for (size_t t = 0; t < n_tokens; ++t) {
    for (size_t r = 0; r < stride; ++r) {
      const float want =
          r < n_rows ? k.dot_q4_k_q8_k(w.data() + r * n_blocks, x.data() + t * n_blocks, n_blocks)
                     : -7.0f;
      uint32_t a, b;
      std::memcpy(&a, &got[t * stride + r], 4);
      std::memcpy(&b, &want, 4);
      differ += a != b;
    }
  }
  EXPECT_EQ(differ, 0u) << k.isa << " blocks=" << n_blocks << " rows=" << n_rows
                        << " tokens=" << n_tokens;
}

TEST(MatmulQ4K, TileEqualsTheSetsDotBitForBitOverAwkwardSizes) {
  const auto sets = tiled_sets();
  if (sets.empty()) GTEST_SKIP() << "no kernel set here has a tiled Q4_K matmul";
  std::mt19937 rng(41);
  for (const CpuKernels* k : sets) {
    for (size_t n_blocks = 1; n_blocks <= 9; ++n_blocks) {
      for (size_t n_rows = 1; n_rows <= 13; ++n_rows) {
        for (size_t n_tokens : {1, 2, 3, 4, 5, 7, 8, 13, 66}) {
          expect_tile_equals_dot(*k, n_blocks, n_rows, n_tokens, rng);
        }
      }
    }
  }
}

// 33 and 64 super-blocks a row: 48 and 24 tokens a packed chunk, so 66 tokens cross chunks.
TEST(MatmulQ4K, TileEqualsTheDotAcrossTokenChunks) {
  const auto sets = tiled_sets();
  if (sets.empty()) GTEST_SKIP() << "no kernel set here has a tiled Q4_K matmul";
  std::mt19937 rng(43);
  for (const CpuKernels* k : sets) {
    expect_tile_equals_dot(*k, 33, 5, 66, rng);
    expect_tile_equals_dot(*k, 64, 6, 66, rng);
  }
}

// The dispatch: matmul() over Q4_K goes through the tile and still equals per-token matvec for
// every set, split over row ranges as the thread pool does.
TEST(MatmulQ4K, MatmulOverRowRangesEqualsMatvec) {
  std::mt19937 rng(47);
  const size_t rows = 23, cols = 5 * kQK, n = 19;
  const auto wv = testing::random_floats(rng, rows * cols, 0.05f);
  const auto xv = testing::random_floats(rng, n * cols);
  std::vector<BlockQ4_K> w(rows * cols / kQK);
  quantize_row_q4_k(wv.data(), w.data(), wv.size());
  const MatrixView view{TensorType::q4_k, w.data(), rows, cols};
  std::vector<const CpuKernels*> sets = {&generic_cpu_kernels()};
  for (const CpuKernels* k : testing::optimized_sets()) sets.push_back(k);
  for (const CpuKernels* k : sets) {
    std::vector<float> want(n * rows), got(n * rows, -1.0f);
    MatvecScratch scratch;
    for (size_t t = 0; t < n; ++t) {
      matvec(*k, view, xv.data() + t * cols, want.data() + t * rows, scratch);
    }
    ActivationBatch batch;
    prepare_batch(view, xv.data(), n, batch);
    quantize_batch(view, batch, 0, n);
    matmul(*k, view, batch, got.data(), 0, 9);
    matmul(*k, view, batch, got.data(), 9, rows);
    EXPECT_EQ(got, want) << k->isa;
  }
}

}  // namespace
}  // namespace sy::engine::kernels
