// The batched matmul against per-token matvec on awkward shapes, for every weight type and
// every kernel set the processor has. Both quantize each activation row the same way and call
// the same dot kernel, so the outputs must be equal bit for bit (no tolerance).

#include "kernels/cpu/matmul.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/row_groups.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/quantize.h"

namespace sy::engine::kernels {
namespace {

struct Case {
  size_t rows, cols, tokens;
};

TEST(Matmul, EqualsPerTokenMatvecForEveryTypeAndIsa) {
  std::vector<const CpuKernels*> sets = {&generic_cpu_kernels()};
  if (auto* k = avx2_cpu_kernels()) sets.push_back(k);
  if (auto* k = avx512_cpu_kernels()) sets.push_back(k);
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const TensorType types[] = {TensorType::f32,  TensorType::f16,  TensorType::bf16,
                              TensorType::q8_0, TensorType::q4_0, TensorType::q4_k,
                              TensorType::q6_k};
  // Row counts straddle the 16-row blocks; token counts include 1 and odd sizes.
  for (Case c : {Case{1, 32, 1}, Case{7, 96, 3}, Case{33, 576, 17}, Case{17, 160, 64},
                 Case{5, 1056, 2}, Case{1, 256, 5}, Case{31, 768, 9}, Case{16, 2816, 4}}) {
    std::vector<float> w(c.rows * c.cols), x(c.tokens * c.cols);
    for (auto& v : w) v = dist(rng) * 0.05f;
    for (auto& v : x) v = dist(rng);
    for (TensorType type : types) {
      if (c.cols % tensor_type_traits(type).block_size != 0) continue;
      auto bytes = quantize_values(type, w);
      const MatrixView view{type, bytes.data(), c.rows, c.cols};
      for (const CpuKernels* k : sets) {
        std::vector<float> want(c.tokens * c.rows), got(c.tokens * c.rows, -1.0f);
        MatvecScratch scratch;
        for (size_t t = 0; t < c.tokens; ++t) {
          matvec(*k, view, x.data() + t * c.cols, want.data() + t * c.rows, scratch);
        }
        ActivationBatch batch;
        matmul(*k, view, x.data(), c.tokens, got.data(), batch);
        EXPECT_EQ(got, want) << k->isa << " " << to_string(type) << " " << c.rows << "x" << c.cols
                             << " T=" << c.tokens;
      }
    }
  }
}

TEST(Matmul, SplitRowsAndTokensGiveTheSameResult) {
  const size_t rows = 37, cols = 256, n = 6;
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> w(rows * cols), x(n * cols);
  for (auto& v : w) v = dist(rng);
  for (auto& v : x) v = dist(rng);
  for (TensorType type : {TensorType::q8_0, TensorType::q6_k}) {
    auto bytes = quantize_values(type, w);
    const MatrixView view{type, bytes.data(), rows, cols};
    const CpuKernels& k = select_cpu_kernels();
    std::vector<float> whole(n * rows), split(n * rows, -1.0f);
    ActivationBatch batch;
    matmul(k, view, x.data(), n, whole.data(), batch);
    ActivationBatch parts;
    prepare_batch(view, x.data(), n, parts);
    quantize_batch(view, parts, 0, 4);
    quantize_batch(view, parts, 4, n);
    matmul(k, view, parts, split.data(), 0, 20);
    matmul(k, view, parts, split.data(), 20, rows);
    EXPECT_EQ(split, whole) << to_string(type);
  }
}

// Row-grouped Q8_0 / Q4_0 weights (a row-major tail when the rows are not a multiple of 16)
// give the row-major matrix's bits through matmul and through matvec_rows over any split of
// the rows, on every set.
TEST(Matmul, GroupedWeightsGiveTheRowMajorBits) {
  std::vector<const CpuKernels*> sets = {&generic_cpu_kernels()};
  if (auto* k = avx2_cpu_kernels()) sets.push_back(k);
  if (auto* k = avx512_cpu_kernels()) sets.push_back(k);
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (Case c : {Case{16, 32, 1}, Case{17, 96, 3}, Case{50, 576, 9}, Case{33, 160, 66},
                 Case{5, 64, 2}, Case{48, 1056, 8}}) {
    std::vector<float> w(c.rows * c.cols), x(c.tokens * c.cols);
    for (auto& v : w) v = dist(rng) * 0.05f;
    for (auto& v : x) v = dist(rng);
    for (TensorType type : {TensorType::q8_0, TensorType::q4_0}) {
      auto bytes = quantize_values(type, w);
      auto grouped = bytes;
      regroup(type, c.cols, grouped.data(), grouped.data(), c.rows / kGroupRows);
      const MatrixView plain{type, bytes.data(), c.rows, c.cols};
      const MatrixView view{type, grouped.data(), c.rows, c.cols, true};
      for (const CpuKernels* k : sets) {
        std::vector<float> want(c.tokens * c.rows), got(c.tokens * c.rows, -1.0f);
        ActivationBatch batch;
        matmul(generic_cpu_kernels(), plain, x.data(), c.tokens, want.data(), batch);
        matmul(*k, view, x.data(), c.tokens, got.data(), batch);
        EXPECT_EQ(got, want) << k->isa << " " << to_string(type) << " " << c.rows << "x" << c.cols
                             << " T=" << c.tokens;
        // Uneven shares of the rows, cutting groups: the token-0 outputs.
        MatvecScratch scratch;
        quantize_activations(view, x.data(), scratch);
        std::vector<float> split(c.rows, -1.0f);
        const size_t cuts[] = {0, c.rows / 5, c.rows / 2 + 1, c.rows};
        for (size_t i = 0; i + 1 < 4; ++i) {
          if (cuts[i] < cuts[i + 1] && cuts[i + 1] <= c.rows) {
            matvec_rows(*k, view, x.data(), scratch, split.data(), cuts[i], cuts[i + 1]);
          }
        }
        EXPECT_EQ(split, std::vector<float>(want.begin(), want.begin() + c.rows))
            << k->isa << " " << to_string(type) << " split rows " << c.rows << "x" << c.cols;
      }
    }
  }
}

TEST(Matmul, RejectsUnsupportedTypesAndWidths) {
  std::vector<std::byte> data(4096);
  std::vector<float> x(1024), out(8);
  ActivationBatch batch;
  const CpuKernels& k = generic_cpu_kernels();
  EXPECT_THROW(matmul(k, {TensorType::q5_k, data.data(), 1, 256}, x.data(), 1, out.data(), batch),
               EngineError);
  EXPECT_THROW(matmul(k, {TensorType::q4_k, data.data(), 1, 576}, x.data(), 1, out.data(), batch),
               EngineError);
  EXPECT_THROW(matmul(k, {TensorType::q8_0, data.data(), 1, 40}, x.data(), 1, out.data(), batch),
               EngineError);
}

}  // namespace
}  // namespace sy::engine::kernels
