// The multi-row Q4_K matvec of every kernel set that has one against that set's own dot, BIT FOR
// BIT (cpu_kernels.h: matvec == the dot row by row), over 1..9 super-blocks (odd counts end in
// the first accumulator's tail) and 1..13 rows (not multiples of the 4-row group), on raw random
// blocks (every 6-bit scale and min, 0 and 63 included) and activations with all-zero and
// saturated blocks.

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

TEST(MatvecQ4K, RowsEqualTheSetsDotBitForBit) {
  std::vector<const CpuKernels*> sets;
  for (const CpuKernels* k : testing::optimized_sets()) {
    if (k->matvec_q4_k_q8_k != nullptr) sets.push_back(k);
  }
  if (sets.empty()) GTEST_SKIP() << "no kernel set here has a multi-row Q4_K matvec";
  std::mt19937 rng(53);
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> scale(0.0f, 0.02f);
  for (const CpuKernels* k : sets) {
    for (size_t n_blocks = 1; n_blocks <= 9; ++n_blocks) {
      for (size_t n_rows = 1; n_rows <= 13; ++n_rows) {
        std::vector<BlockQ4_K> w(n_rows * n_blocks);
        for (size_t i = 0; i < w.size(); ++i) {
          for (auto& v : w[i].scales) v = static_cast<uint8_t>(byte(rng));
          for (auto& v : w[i].qs) v = static_cast<uint8_t>(byte(rng));
          if (i % 5 == 2) std::memset(w[i].scales, 0xFF, sizeof(w[i].scales));
          w[i].d = fp32_to_fp16(scale(rng));
          w[i].dmin = fp32_to_fp16(scale(rng));
        }
        std::vector<float> xv = testing::random_floats(rng, n_blocks * kQK);
        // Block 1 all zeros, block 2 saturated (+-127 throughout).
        for (size_t i = 0; i < kQK && n_blocks > 1; ++i) xv[kQK + i] = 0.0f;
        for (size_t i = 0; i < kQK && n_blocks > 2; ++i) xv[2 * kQK + i] = i % 3 ? 9.0f : -9.0f;
        std::vector<BlockQ8_K> x(n_blocks);
        quantize_row_q8_k(xv.data(), x.data(), xv.size());
        std::vector<float> got(n_rows + 2, -3.0f);
        k->matvec_q4_k_q8_k(w.data(), n_rows, x.data(), n_blocks, got.data());
        size_t differ = 0;
        for (size_t r = 0; r < n_rows; ++r) {
          const float want = k->dot_q4_k_q8_k(w.data() + r * n_blocks, x.data(), n_blocks);
          differ += std::memcmp(&got[r], &want, 4) != 0;
        }
        EXPECT_EQ(differ, 0u) << k->isa << " blocks=" << n_blocks << " rows=" << n_rows;
        EXPECT_EQ(got[n_rows], -3.0f) << "wrote past its rows";
      }
    }
  }
}

}  // namespace
}  // namespace sy::engine::kernels
