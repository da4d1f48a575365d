// Activations quantized once and shared: matvec_rows over row ranges split across threads, all
// reading one prepared scratch, gives exactly what single-threaded matvec gives.

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cpu/matvec.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/quantize.h"

namespace sy::engine::kernels {
namespace {

TEST(MatvecRows, ThreadsSharingOnePreparedScratchMatchMatvecExactly) {
  const size_t rows = 37, cols = 160;  // rows not a multiple of the thread count
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> w(rows * cols), x(cols);
  for (auto& v : w) v = dist(rng) * 0.05f;
  for (auto& v : x) v = dist(rng);
  const std::vector<std::byte> q8 = quantize_values(TensorType::q8_0, w),
                               q4 = quantize_values(TensorType::q4_0, w);
  const MatrixView views[] = {{TensorType::f32, w.data(), rows, cols},
                              {TensorType::q8_0, q8.data(), rows, cols},
                              {TensorType::q4_0, q4.data(), rows, cols}};
  for (const MatrixView& view : views) {
    MatvecScratch own;
    std::vector<float> want(rows);
    matvec(select_cpu_kernels(), view, x.data(), want.data(), own);

    MatvecScratch shared;
    quantize_activations(view, x.data(), shared);
    std::vector<float> got(rows, -1.0f);
    std::vector<std::thread> threads;
    const size_t parts = 3;
    for (size_t i = 0; i < parts; ++i) {
      threads.emplace_back([&, i] {
        matvec_rows(select_cpu_kernels(), view, x.data(), shared, got.data(), rows * i / parts,
                    rows * (i + 1) / parts);
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(got, want) << to_string(view.type);
  }
}

TEST(MatvecRows, RefusesAScratchNotPreparedForTheMatrix) {
  std::vector<float> w(64 * 2, 0.5f), x(64, 1.0f), out(2);
  const std::vector<std::byte> q8 = quantize_values(TensorType::q8_0, w);
  const MatrixView view{TensorType::q8_0, q8.data(), 2, 64};
  MatvecScratch scratch;
  EXPECT_THROW(matvec_rows(select_cpu_kernels(), view, x.data(), scratch, out.data(), 0, 2),
               EngineError);
  // Prepared for a narrower matrix: the block count disagrees.
  quantize_activations({TensorType::q8_0, q8.data(), 4, 32}, x.data(), scratch);
  EXPECT_THROW(matvec_rows(select_cpu_kernels(), view, x.data(), scratch, out.data(), 0, 2),
               EngineError);
  quantize_activations(view, x.data(), scratch);
  matvec_rows(select_cpu_kernels(), view, x.data(), scratch, out.data(), 0, 2);
  EXPECT_NEAR(out[0], 32.0f, 0.1f);
}

}  // namespace
}  // namespace sy::engine::kernels
