// The batched quantized matmul alone, in CPU time (so that it means something on a loaded
// machine): one thread runs kernels::matmul (the path a batched decode step or a prefill chunk
// takes) over the weight shapes of one SmolLM2-135M layer (q/o 576x576, k/v 192x576, gate/up
// 1536x576, down 576x1536) for each rows count N (tokens in the batch), and prints GOP/s
// (2 x multiply-adds over CPU seconds) beside the int8 VNNI peak of one thread measured in the
// same process (independent vpdpbusd chains, as engine_peak). N = 1 is matvec_rows, the path a
// single stream takes, for reference. Weights are random Q8_0 or Q4_0 in anonymous memory
// (~5 MB for the layer: mostly L2/L3-resident, as a model's layers are not; the decode step's
// end-to-end figure is bench_engine_step's).
//
//   bench_matmul [--types q8_0,q4_0] [--rows 1,2,4,8,16,32,64,128,512] [--ms 200]
// One JSON line per (type, N): {"type":..,"rows":N,"gops":..,"peak_gops":..,"of_peak":..}

#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matvec.h"

namespace {

using namespace sy::engine;
using namespace sy::engine::kernels;

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

std::vector<size_t> parse_list(const std::string& v) {
  std::vector<size_t> out;
  for (size_t at = 0; at < v.size();) {
    const size_t comma = std::min(v.find(',', at), v.size());
    out.push_back(std::stoul(v.substr(at, comma - at)));
    at = comma + 1;
  }
  return out;
}

// One thread's int8 peak: 12 independent 512-bit vpdpbusd chains (64 multiply-adds each).
__attribute__((target("avx512f,avx512vnni"))) double vnni512_peak_gops(double seconds) {
  constexpr int kChains = 12;
  __m512i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
  int64_t rounds = 0;
  const double t0 = thread_cpu_seconds();
  double t = t0;
  while (t - t0 < seconds) {
    for (int k = 0; k < 4096; ++k) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    }
    ++rounds;
    t = thread_cpu_seconds();
  }
  __m512i s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_epi32(s, acc[i]);
  volatile int sink = _mm512_reduce_add_epi32(s);
  (void)sink;
  return 2.0 * rounds * 4096 * kChains * 64 / (t - t0) / 1e9;
}

struct Shape {
  size_t rows, cols;
};
// One SmolLM2-135M layer: q, k, v, o, gate, up, down.
constexpr Shape kLayer[] = {{576, 576}, {192, 576}, {192, 576}, {576, 576},
                            {1536, 576}, {1536, 576}, {576, 1536}};

struct Weights {
  TensorType type;
  std::vector<std::vector<uint8_t>> bytes;  // one per shape
};

Weights random_weights(TensorType type, std::mt19937& rng) {
  Weights w{type, {}};
  std::normal_distribution<float> normal(0.0f, 0.05f);
  for (const Shape& s : kLayer) {
    std::vector<float> row(s.cols);
    const size_t blocks = s.cols / 32;
    const size_t row_bytes = blocks * (type == TensorType::q8_0 ? 34 : 18);
    std::vector<uint8_t> bytes(s.rows * row_bytes);
    for (size_t r = 0; r < s.rows; ++r) {
      for (float& v : row) v = normal(rng);
      if (type == TensorType::q8_0) {
        quantize_row_q8_0(row.data(), reinterpret_cast<BlockQ8_0*>(bytes.data() + r * row_bytes),
                          s.cols);
      } else {
        quantize_row_q4_0(row.data(), reinterpret_cast<BlockQ4_0*>(bytes.data() + r * row_bytes),
                          s.cols);
      }
    }
    w.bytes.push_back(std::move(bytes));
  }
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> types{"q8_0", "q4_0"};
  std::vector<size_t> counts{1, 2, 4, 8, 16, 32, 64, 128, 512};
  double ms = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--types") {
      types.clear();
      for (size_t at = 0; at < v.size();) {
        const size_t comma = std::min(v.find(',', at), v.size());
        types.push_back(v.substr(at, comma - at));
        at = comma + 1;
      }
    } else if (k == "--rows") {
      counts = parse_list(v);
    } else if (k == "--ms") {
      ms = std::stod(v);
    } else {
      std::fprintf(stderr, "usage: bench_matmul [--types q8_0,q4_0] [--rows 1,4,16] [--ms 200]\n");
      return 2;
    }
  }
  const CpuKernels& kernels = select_cpu_kernels();
  __builtin_cpu_init();
  const bool vnni = __builtin_cpu_supports("avx512vnni");
  std::mt19937 rng(7);
  const size_t max_n = *std::max_element(counts.begin(), counts.end());
  std::vector<float> x(max_n * 1536);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  std::vector<float> out(max_n * 1536);
  ActivationBatch batch;
  MatvecScratch scratch;
  double macs_per_token = 0;
  for (const Shape& s : kLayer) macs_per_token += double(s.rows) * s.cols;

  for (const std::string& name : types) {
    const TensorType type = name == "q4_0" ? TensorType::q4_0 : TensorType::q8_0;
    const Weights w = random_weights(type, rng);
    for (const size_t n : counts) {
      // One pass = every matrix of the layer over the n activations; repeated for ~ms.
      auto pass = [&] {
        for (size_t i = 0; i < std::size(kLayer); ++i) {
          const MatrixView m{type, w.bytes[i].data(), kLayer[i].rows, kLayer[i].cols};
          if (n == 1) {
            quantize_activations(m, x.data(), scratch);
            matvec_rows(kernels, m, x.data(), scratch, out.data(), 0, m.rows);
          } else {
            prepare_batch(m, x.data(), n, batch);
            quantize_batch(m, batch, 0, n);
            matmul(kernels, m, batch, out.data(), 0, m.rows);
          }
        }
      };
      pass();  // warm
      size_t passes = 0;
      const double t0 = thread_cpu_seconds();
      double t = t0;
      while (t - t0 < ms * 1e-3) {
        pass();
        ++passes;
        t = thread_cpu_seconds();
      }
      const double gops = 2.0 * macs_per_token * n * passes / (t - t0) / 1e9;
      // The peak beside each row, so that both see the same machine state.
      const double peak = vnni ? vnni512_peak_gops(ms * 0.25e-3) : 0.0;
      std::printf(
          "{\"isa\":\"%s\",\"type\":\"%s\",\"rows\":%zu,\"gops\":%.1f,\"peak_gops\":%.1f,"
          "\"of_peak\":%.3f,\"us_per_layer\":%.1f}\n",
          std::string(kernels.isa).c_str(), name.c_str(), n, gops, peak,
          peak > 0 ? gops / peak : 0.0, (t - t0) / passes * 1e6);
      std::fflush(stdout);
    }
  }
  return 0;
}
