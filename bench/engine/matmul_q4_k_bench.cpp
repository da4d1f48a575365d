// The Q4_K prefill matmul alone, in CPU time of one thread (meaningful on a loaded machine):
// kernels::matmul over SmolLM2-1.7B's weight shapes (q/k/v/o 2048x2048, gate/up 8192x2048, down
// 2048x8192; one of each distinct shape) for N tokens, through the selected kernel set's Q4_K
// row-group kernel on weights regrouped as LlamaCpu holds them ("tile") and through the same set
// on row-major weights with its row-major matmul removed, i.e. one dot per (row, token) ("dots").
// The two alternate, so that load on the machine falls on both alike, and every round checks their
// outputs are equal bit for bit. Prints GOP/s (2 x multiply-adds over CPU seconds) beside the int8
// VNNI peak of one thread measured in the same process (independent 512-bit vpdpbusd chains).
//
//   engine_matmul_q4_k_bench [--tokens 128] [--rounds 5] [--isa avx2|avx512]
// One JSON line per (mode, shape) and one for the whole layer.

#include <immintrin.h>
#include <time.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../common/int8_peak.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/row_groups.h"

namespace {

using sy::bench::thread_cpu_seconds;
using sy::bench::vnni512_peak_gops;

using namespace sy::engine;
using namespace sy::engine::kernels;

struct Shape {
  const char* name;
  size_t rows, cols, count;  // count: how many of this shape one layer has
};
constexpr Shape kShapes[] = {{"qkvo_2048x2048", 2048, 2048, 4},
                             {"gate_up_8192x2048", 8192, 2048, 2},
                             {"down_2048x8192", 2048, 8192, 1}};

}  // namespace

int main(int argc, char** argv) {
  size_t tokens = 128, rounds = 5;
  std::string isa;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--tokens") tokens = std::stoul(argv[i + 1]);
    if (a == "--rounds") rounds = std::stoul(argv[i + 1]);
    if (a == "--isa") isa = argv[i + 1];
  }
  const CpuKernels* chosen = &select_cpu_kernels();
  if (isa == "avx2") chosen = avx2_cpu_kernels();
  if (isa == "avx512") chosen = avx512_cpu_kernels();
  if (chosen == nullptr) {
    std::printf("{\"error\":\"no %s kernels on this processor\"}\n", isa.c_str());
    return 0;
  }
  const CpuKernels& tiled = *chosen;
  CpuKernels dots = tiled;
  dots.matmul_q4_k_q8_k = nullptr;

  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<BlockQ4_K>> weights, grouped;
  std::vector<std::vector<float>> inputs;
  for (const Shape& s : kShapes) {
    std::vector<float> w(s.rows * s.cols);
    for (float& v : w) v = normal(rng) * 0.02f;
    weights.emplace_back(w.size() / kQK);
    quantize_row_q4_k(w.data(), weights.back().data(), w.size());
    grouped.push_back(weights.back());
    regroup(TensorType::q4_k, s.cols, grouped.back().data(), grouped.back().data(),
            s.rows / kGroupRows);
    std::vector<float> x(tokens * s.cols);
    for (float& v : x) v = normal(rng);
    inputs.push_back(std::move(x));
  }
  const double peak = vnni512_peak_gops(0.3);

  double seconds[2][3] = {};
  std::vector<float> out[2];
  for (size_t round = 0; round < rounds; ++round) {
    for (size_t i = 0; i < std::size(kShapes); ++i) {
      const Shape& s = kShapes[i];
      const MatrixView view{TensorType::q4_k, weights[i].data(), s.rows, s.cols};
      const MatrixView grouped_view{TensorType::q4_k, grouped[i].data(), s.rows, s.cols, true};
      for (int mode = 0; mode < 2; ++mode) {
        // Alternate which mode goes first.
        const int m = (round % 2 == 0) ? mode : 1 - mode;
        out[m].assign(tokens * s.rows, 0.0f);
        ActivationBatch batch;
        const double t0 = thread_cpu_seconds();
        if (m == 0) {
          matmul(tiled, grouped_view, inputs[i].data(), tokens, out[m].data(), batch);
        } else {
          matmul(dots, view, inputs[i].data(), tokens, out[m].data(), batch);
        }
        seconds[m][i] += thread_cpu_seconds() - t0;
      }
      if (std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)) != 0) {
        std::printf("{\"error\":\"tile and dots differ on %s\"}\n", s.name);
        return 1;
      }
    }
  }
  const char* mode_names[2] = {"tile", "dots"};
  for (int m = 0; m < 2; ++m) {
    double layer_ops = 0, layer_seconds = 0;
    for (size_t i = 0; i < std::size(kShapes); ++i) {
      const Shape& s = kShapes[i];
      const double ops = 2.0 * s.rows * s.cols * tokens * rounds;
      const double gops = ops / seconds[m][i] / 1e9;
      layer_ops += ops * s.count;
      layer_seconds += seconds[m][i] * s.count;
      std::printf(
          "{\"isa\":\"%s\",\"mode\":\"%s\",\"shape\":\"%s\",\"tokens\":%zu,\"gops\":%.1f,"
          "\"peak_gops\":%.1f,\"of_peak\":%.3f}\n",
          std::string(tiled.isa).c_str(), mode_names[m], s.name, tokens, gops, peak, gops / peak);
    }
    const double gops = layer_ops / layer_seconds / 1e9;
    std::printf(
        "{\"isa\":\"%s\",\"mode\":\"%s\",\"shape\":\"layer\",\"tokens\":%zu,\"gops\":%.1f,"
        "\"peak_gops\":%.1f,\"of_peak\":%.3f}\n",
        std::string(tiled.isa).c_str(), mode_names[m], tokens, gops, peak, gops / peak);
  }
  return 0;
}
