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
//   bench_matmul [--types q8_0,q4_0] [--rows 1,2,4,8,16,32,64,128,512] [--ms 200] [--proto 1]
//                [--grouped 1] [--layers 1]
// One JSON line per (type, N): {"type":..,"rows":N,"gops":..,"peak_gops":..,"of_peak":..}
// --grouped 1 (the default) regroups the weights into 16-row groups first, as LlamaCpu does at
// load (kernels/cpu/row_groups.h), so the row-group kernels run; --grouped 0 keeps them
// row-major (the per-row matvec kernels, same bits).
// --layers L makes L distinct copies of the layer's weights and has each pass go through the
// next one: at 30 (SmolLM2-135M's count, ~140 MB of Q8_0) the weights stream from memory as a
// decode step's do, instead of staying in the caches. The copies sit in 2 MiB pages where the
// kernel gives them, as LlamaCpu's weights do.
//
// --proto 1 adds, for Q8_0, a prototype that is NOT the engine's path (type "q8_0_rows_in_lanes"):
// the same products under a different numeric contract, to measure what that contract would buy.
// The engine's contract (cpu_kernels.h) makes every output equal the per-row dot bit for bit,
// and that dot keeps eight float lanes per row, so each block costs a convert and an FMA per
// 8 lanes beside each vpdpbusd. The prototype sums each block exactly in int32 instead, then
// adds float(sum) * (wd * xd) with one FMA per block, blocks in order: a contract a scalar dot
// and a matvec can follow too. Its weights are repacked 16 rows to a group, interleaved 4 bytes
// at a time (as vpdpbusd's lanes want them), so 16 rows x 1 token are one register and a block
// is 8 vpdpbusd + 1 convert + 1 multiply + 1 FMA per 16 outputs. Checked against a scalar
// reference of its contract on every run.

#include <immintrin.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../common/int8_peak.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matvec.h"
#include "kernels/cpu/row_groups.h"

namespace {

using sy::bench::thread_cpu_seconds;
using sy::bench::vnni512_peak_gops;

using namespace sy::engine;
using namespace sy::engine::kernels;

std::vector<size_t> parse_list(const std::string& v) {
  std::vector<size_t> out;
  for (size_t at = 0; at < v.size();) {
    const size_t comma = std::min(v.find(',', at), v.size());
    out.push_back(std::stoul(v.substr(at, comma - at)));
    at = comma + 1;
  }
  return out;
}

struct Shape {
  size_t rows, cols;
};
// One SmolLM2-135M layer: q, k, v, o, gate, up, down.
constexpr Shape kLayer[] = {{576, 576},  {192, 576},  {192, 576}, {576, 576},
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

// ---- The rows-in-lanes prototype (--proto 1), Q8_0 only --------------------------------------
// A group of 16 rows, block b: q[k] = element 4k..4k+3 of each of the 16 rows (xor 0x80, so
// unsigned), d = the rows' scales.
struct alignas(64) LaneBlock {
  uint8_t q[8][64];
  float d[16];
};
// One token's block b: its quants 4 at a time, -128 * their sum, its scale.
struct LaneActivation {
  int32_t q[8];
  int32_t start;
  float d;
};

std::vector<LaneBlock> pack_lanes(const BlockQ8_0* w, size_t rows, size_t blocks) {
  std::vector<LaneBlock> out(rows / 16 * blocks);
  for (size_t g = 0; g < rows / 16; ++g) {
    for (size_t b = 0; b < blocks; ++b) {
      LaneBlock& p = out[g * blocks + b];
      for (size_t r = 0; r < 16; ++r) {
        const BlockQ8_0& src = w[(g * 16 + r) * blocks + b];
        p.d[r] = fp16_to_fp32(src.d);
        for (size_t k = 0; k < 8; ++k) {
          for (size_t j = 0; j < 4; ++j) p.q[k][4 * r + j] = uint8_t(src.qs[4 * k + j]) ^ 0x80;
        }
      }
    }
  }
  return out;
}

// 16 rows x T tokens (token t's blocks at x + t * x_stride); out[t * out_stride + r].
template <int T>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma"))) void lanes_tile(
    const LaneBlock* w, size_t blocks, const LaneActivation* x, size_t x_stride, float* out,
    size_t out_stride) {
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (size_t b = 0; b < blocks; ++b) {
    __m512i wk[8];
    for (int k = 0; k < 8; ++k) wk[k] = _mm512_load_si512(w[b].q[k]);
    const __m512 wd = _mm512_load_ps(w[b].d);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const LaneActivation& a = x[t * x_stride + b];
      __m512i sum = _mm512_set1_epi32(a.start);
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) sum = _mm512_dpbusd_epi32(sum, wk[k], _mm512_set1_epi32(a.q[k]));
      acc[t] =
          _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(wd, _mm512_set1_ps(a.d)), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

void lanes_matmul(const std::vector<LaneBlock>& w, size_t rows, size_t blocks,
                  const std::vector<LaneActivation>& x, size_t n, float* out) {
  for (size_t g = 0; g < rows / 16; ++g) {
    const LaneBlock* wg = w.data() + g * blocks;
    for (size_t t = 0; t < n; t += 8) {
      const LaneActivation* xt = x.data() + t * blocks;
      float* o = out + t * rows + g * 16;
      if (n - t >= 8) {
        lanes_tile<8>(wg, blocks, xt, blocks, o, rows);
      } else if (n - t >= 4) {
        lanes_tile<4>(wg, blocks, xt, blocks, o, rows);
        for (size_t i = 4; i < n - t; ++i) {
          lanes_tile<1>(wg, blocks, xt + i * blocks, blocks, o + i * rows, rows);
        }
      } else {
        for (size_t i = 0; i < n - t; ++i) {
          lanes_tile<1>(wg, blocks, xt + i * blocks, blocks, o + i * rows, rows);
        }
      }
    }
  }
}

std::vector<LaneActivation> pack_lane_activations(const std::vector<BlockQ8_0>& xq) {
  std::vector<LaneActivation> out(xq.size());
  for (size_t i = 0; i < xq.size(); ++i) {
    std::memcpy(out[i].q, xq[i].qs, 32);
    int sum = 0;
    for (int8_t v : xq[i].qs) sum += v;
    out[i].start = -128 * sum;
    out[i].d = fp16_to_fp32(xq[i].d);
  }
  return out;
}

// The prototype's contract, one output at a time: exact int32 per block, one FMA per block.
float lanes_reference(const BlockQ8_0* w, const BlockQ8_0* x, size_t blocks) {
  float acc = 0;
  for (size_t b = 0; b < blocks; ++b) {
    int32_t sum = 0;
    for (size_t j = 0; j < 32; ++j) sum += w[b].qs[j] * x[b].qs[j];
    acc = std::fma(static_cast<float>(sum), fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d), acc);
  }
  return acc;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> types{"q8_0", "q4_0"};
  std::vector<size_t> counts{1, 2, 4, 8, 16, 32, 64, 128, 512};
  double ms = 200;
  bool proto = false;
  bool grouped = true;
  size_t layers = 1;
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
    } else if (k == "--proto") {
      proto = v != "0";
    } else if (k == "--grouped") {
      grouped = v != "0";
    } else if (k == "--layers") {
      layers = std::max<size_t>(1, std::stoul(v));
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
    // (layers, matrices): the engine's layout, one copy of the layer per layer, in huge pages.
    size_t layer_bytes = 0;
    for (const auto& m : w.bytes) layer_bytes += (m.size() + 4095) / 4096 * 4096;
    constexpr size_t kHuge = size_t{2} << 20;
    const size_t arena_bytes = layers * layer_bytes + kHuge;
    void* arena =
        mmap(nullptr, arena_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (arena == MAP_FAILED) return 1;
    auto* next = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(arena) + kHuge - 1) /
                                            kHuge * kHuge);
    madvise(next, layers * layer_bytes, MADV_HUGEPAGE);
    std::vector<std::vector<uint8_t*>> copies(layers);
    for (auto& g : copies) {
      for (size_t i = 0; i < std::size(kLayer); ++i) {
        std::memcpy(next, w.bytes[i].data(), w.bytes[i].size());
        if (grouped) regroup(type, kLayer[i].cols, next, next, kLayer[i].rows / kGroupRows);
        g.push_back(next);
        next += (w.bytes[i].size() + 4095) / 4096 * 4096;
      }
    }
    size_t layer = 0;
    for (const size_t n : counts) {
      // One pass = every matrix of the layer over the n activations; repeated for ~ms.
      auto pass = [&] {
        const auto& g = copies[layer];
        layer = (layer + 1) % layers;
        for (size_t i = 0; i < std::size(kLayer); ++i) {
          const MatrixView m{type, g[i], kLayer[i].rows, kLayer[i].cols, grouped};
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
          "{\"isa\":\"%s\",\"type\":\"%s\",\"grouped\":%s,\"rows\":%zu,\"gops\":%.1f,"
          "\"peak_gops\":%.1f,\"of_peak\":%.3f,\"us_per_layer\":%.1f}\n",
          std::string(kernels.isa).c_str(), name.c_str(), grouped ? "true" : "false", n, gops, peak,
          peak > 0 ? gops / peak : 0.0, (t - t0) / passes * 1e6);
      std::fflush(stdout);
      if (proto && vnni && type == TensorType::q8_0) {
        std::vector<std::vector<LaneBlock>> lanes;
        std::vector<std::vector<LaneActivation>> acts;
        for (size_t i = 0; i < std::size(kLayer); ++i) {
          const size_t blocks = kLayer[i].cols / 32;
          const auto* wq = reinterpret_cast<const BlockQ8_0*>(w.bytes[i].data());
          lanes.push_back(pack_lanes(wq, kLayer[i].rows, blocks));
          std::vector<BlockQ8_0> xq(n * blocks);
          for (size_t t = 0; t < n; ++t) {
            quantize_row_q8_0(x.data() + t * kLayer[i].cols, xq.data() + t * blocks,
                              kLayer[i].cols);
          }
          acts.push_back(pack_lane_activations(xq));
          // Check this matrix against the reference before timing it.
          lanes_matmul(lanes.back(), kLayer[i].rows, blocks, acts.back(), n, out.data());
          for (size_t t = 0; t < n; ++t) {
            for (size_t r = 0; r < kLayer[i].rows; ++r) {
              if (out[t * kLayer[i].rows + r] !=
                  lanes_reference(wq + r * blocks, xq.data() + t * blocks, blocks)) {
                std::fprintf(stderr, "rows-in-lanes prototype: output %zu,%zu differs\n", t, r);
                return 1;
              }
            }
          }
        }
        auto lane_pass = [&] {
          for (size_t i = 0; i < std::size(kLayer); ++i) {
            lanes_matmul(lanes[i], kLayer[i].rows, kLayer[i].cols / 32, acts[i], n, out.data());
          }
        };
        size_t lane_passes = 0;
        const double l0 = thread_cpu_seconds();
        double l = l0;
        while (l - l0 < ms * 1e-3) {
          lane_pass();
          ++lane_passes;
          l = thread_cpu_seconds();
        }
        const double lane_gops = 2.0 * macs_per_token * n * lane_passes / (l - l0) / 1e9;
        std::printf(
            "{\"isa\":\"avx512\",\"type\":\"q8_0_rows_in_lanes\",\"rows\":%zu,\"gops\":%.1f,"
            "\"peak_gops\":%.1f,\"of_peak\":%.3f,\"us_per_layer\":%.1f}\n",
            n, lane_gops, peak, peak > 0 ? lane_gops / peak : 0.0, (l - l0) / lane_passes * 1e6);
        std::fflush(stdout);
      }
    }
    munmap(arena, arena_bytes);
  }
  return 0;
}
