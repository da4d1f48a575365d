// matvec over weights in their file format against the plain F32 product of the dequantized
// weights, for every kernel set the processor has, on awkward shapes.
// Stated bounds, normalized MSE of the output (sum (got - want)^2 / sum want^2):
//   F32, F16 weights: 1e-10 (only summation order differs);
//   BF16 weights: 1e-10 (widened exactly to F32);
//   Q8_0, Q4_0 weights: 5e-4 (activations are quantized to Q8_0 on the fly: per element
//   error up to d/2 with d = max|x|/127 over each block of 32);
//   Q4_K, Q6_K weights: 5e-4 (activations quantized to Q8_K, d = max|x|/127 over 256).

#include "kernels/cpu/matvec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "kernels/cpu/dequantize.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/quantize.h"

namespace sy::engine::kernels {
namespace {

struct Case {
  size_t rows;
  size_t cols;
};

TEST(Matvec, MatchesDequantizedProductForEveryTypeAndIsa) {
  std::vector<const CpuKernels*> sets = {&generic_cpu_kernels()};
  if (auto* k = avx2_cpu_kernels()) sets.push_back(k);
  if (auto* k = avx512_cpu_kernels()) sets.push_back(k);
  std::mt19937 rng(21);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const std::pair<TensorType, double> types[] = {
      {TensorType::f32, 1e-10}, {TensorType::f16, 1e-10},  {TensorType::q8_0, 5e-4},
      {TensorType::q4_0, 5e-4}, {TensorType::bf16, 1e-10}, {TensorType::q4_k, 5e-4},
      {TensorType::q6_k, 5e-4}};
  for (Case c : {Case{1, 32}, Case{7, 96}, Case{33, 576}, Case{100, 160}, Case{5, 1056},
                 Case{1, 256}, Case{9, 768}, Case{31, 2816}}) {
    std::vector<float> w(c.rows * c.cols), x(c.cols);
    for (auto& v : w) v = dist(rng) * 0.05f;
    for (auto& v : x) v = dist(rng);
    for (auto [type, bound] : types) {
      if (c.cols % tensor_type_traits(type).block_size != 0) continue;
      auto bytes = quantize_values(type, w);
      std::vector<float> deq(w.size());
      dequantize(type, bytes, deq);
      std::vector<double> want(c.rows, 0.0);
      for (size_t r = 0; r < c.rows; ++r) {
        for (size_t i = 0; i < c.cols; ++i) want[r] += double(deq[r * c.cols + i]) * x[i];
      }
      for (const CpuKernels* k : sets) {
        MatvecScratch scratch;
        std::vector<float> out(c.rows);
        matvec(*k, {type, bytes.data(), c.rows, c.cols}, x.data(), out.data(), scratch);
        double err = 0, norm = 0;
        for (size_t r = 0; r < c.rows; ++r) {
          err += (out[r] - want[r]) * (out[r] - want[r]);
          norm += want[r] * want[r];
        }
        EXPECT_LT(err / norm, bound)
            << k->isa << " " << to_string(type) << " " << c.rows << "x" << c.cols;
      }
    }
  }
}

TEST(Matvec, RowRangeWritesOnlyThoseRows) {
  std::vector<float> w(4 * 32, 1.0f), x(32, 1.0f), out(4, -1.0f);
  MatvecScratch scratch;
  matvec(select_cpu_kernels(), {TensorType::f32, w.data(), 4, 32}, x.data(), out.data(), scratch, 1,
         3);
  EXPECT_EQ(out, (std::vector<float>{-1.0f, 32.0f, 32.0f, -1.0f}));
}

TEST(Matvec, RejectsUnsupportedTypesAndWidths) {
  std::vector<std::byte> data(1024);
  std::vector<float> x(40), out(1);
  MatvecScratch scratch;
  EXPECT_THROW(matvec(generic_cpu_kernels(), {TensorType::q5_k, data.data(), 1, 256}, x.data(),
                      out.data(), scratch),
               EngineError);
  // K-quants need widths that are whole super-blocks of 256, however many 32-blocks fit.
  for (TensorType type : {TensorType::q4_k, TensorType::q6_k}) {
    try {
      matvec(generic_cpu_kernels(), {type, data.data(), 1, 576}, x.data(), out.data(), scratch);
      ADD_FAILURE() << "width 576 accepted for " << to_string(type);
    } catch (const EngineError& e) {
      EXPECT_NE(std::string(e.what()).find("576"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(matvec(generic_cpu_kernels(), {TensorType::q8_0, data.data(), 1, 40}, x.data(),
                      out.data(), scratch),
               EngineError);
}

}  // namespace
}  // namespace sy::engine::kernels
