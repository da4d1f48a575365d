// The batched matmul against per-token matvec on awkward shapes, for every weight type and
// every kernel set the processor has. Both quantize each activation row the same way and call
// the same dot kernel, so the outputs must be equal bit for bit (no tolerance).

#include "kernels/cpu/matmul.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kernels/cpu/dequantize.h"
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
