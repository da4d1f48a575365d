// Decode attention's reads of the F16 KV cache (issue 4): one token's scores and value sums over
// every layer of a SmolLM2-shaped cache, through this machine's kernel set, in the two orders
// LlamaCpu has used: head by head over a run of 64 positions (attention_scores_f16 /
// attention_values_f16 per KV head, the rows one head_dim slice per kv_width row apart) and
// row by row with the heads side by side (attention_*_heads_f16, address order). Between layers
// it reads a weight-sized buffer, as the matvecs do, so the cache comes from memory. The cache is
// in 2 MiB pages, as KvCache asks for its storage. Prints the
// best and median milliseconds per token and the cache bytes read per second, one thread.
//
//   engine_attention_bench [--kv-heads 3] [--group 3] [--layers 30] [--positions 576]
//                          [--reps 20] [--flush 1]  (0: no weight reads, the cache stays hot)
//                          [--slice N]  (side by side in slices of N heads; all by default)
//                          [--weights-mb W]  (W MB of distinct weights a token, each layer
//                             reading its own slice, as a decode step streams them; 0: the
//                             same 3 MB every layer, which stays in L3)
//                          [--nt 1]  (read the weights with prefetchnta 4 KB ahead)
//                          [--isa avx2|avx512|generic]  (that kernel set instead of the best)
//                          [--prefetch 0|1|2]  (a layer's keys and values asked for: 0 not at
//                             all; 1 every line at once right before its attention; 2 spread
//                             over the second half of the layer's weight read, a line per four,
//                             as LlamaCpu's Q/K/V projection asks for them: side_prefetch.h)
//
// SmolLM2-135M: 3 KV heads, group 3, 30 layers; 360M: 5, 3, 32; 1.7B: 32, 1, 24 (head_dim 64).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <sys/mman.h>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"

namespace {

using namespace sy::engine::kernels;
using Clock = std::chrono::steady_clock;

constexpr size_t kHeadDim = 64, kBlock = 64;

struct Args {
  size_t kv_heads = 3, group = 3, layers = 30, positions = 576, reps = 20, flush = 1, slice = 0;
  size_t weights_mb = 0, nt = 0, prefetch = 0;
  std::string isa;  // empty: the set select_cpu_kernels() picks
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--isa") {
      a.isa = argv[i + 1];
      continue;
    }
    const size_t v = std::stoul(argv[i + 1]);
    if (k == "--kv-heads") {
      a.kv_heads = v;
    } else if (k == "--group") {
      a.group = v;
    } else if (k == "--layers") {
      a.layers = v;
    } else if (k == "--positions") {
      a.positions = v;
    } else if (k == "--slice") {
      a.slice = v;
    } else if (k == "--flush") {
      a.flush = v;
    } else if (k == "--weights-mb") {
      a.weights_mb = v;
    } else if (k == "--prefetch") {
      a.prefetch = v;
    } else if (k == "--nt") {
      a.nt = v;
    } else if (k == "--reps") {
      a.reps = v;
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  const CpuKernels* chosen = a.isa.empty()        ? &select_cpu_kernels()
                             : a.isa == "avx2"    ? avx2_cpu_kernels()
                             : a.isa == "avx512"  ? avx512_cpu_kernels()
                             : a.isa == "generic" ? &generic_cpu_kernels()
                                                  : nullptr;
  if (chosen == nullptr) {
    std::fprintf(stderr, "--isa %s: unknown, or not on this machine\n", a.isa.c_str());
    return 2;
  }
  const CpuKernels& k = *chosen;
  const size_t kv_width = a.kv_heads * kHeadDim, blocks = (a.positions + kBlock - 1) / kBlock;
  const size_t slot = kBlock * kv_width;  // halves of one block's keys (or values) for a layer
  // (blocks, layers, 2, kBlock, kv_width) as KvCache lays it out.
  // In 2 MiB pages, as KvCache asks for its storage.
  const size_t cache_elements = blocks * a.layers * 2 * slot;
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t cache_bytes = (cache_elements * sizeof(uint16_t) + kHuge - 1) / kHuge * kHuge;
  std::unique_ptr<uint16_t, decltype(&std::free)> storage(
      static_cast<uint16_t*>(std::aligned_alloc(kHuge, cache_bytes)), &std::free);
  ::madvise(storage.get(), cache_bytes, MADV_HUGEPAGE);
  const std::span<uint16_t> cache(storage.get(), cache_elements);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto& h : cache) h = fp32_to_fp16(u(rng));
  const size_t queries = a.kv_heads * a.group;
  std::vector<float> q(queries * kHeadDim), scores(queries * kBlock);
  for (auto& v : q) v = u(rng) * 0.1f;
  std::vector<float> out(queries * kHeadDim);
  // 3 MB of "weights" read between layers (SmolLM2-135M reads ~3 MB per layer).
  const size_t layer_floats = a.weights_mb > 0 ? (a.weights_mb << 18) / a.layers : 3 << 18;
  std::vector<float> weights(a.weights_mb > 0 ? layer_floats * a.layers : layer_floats, 1.0f);
  float sink = 0;

  // fn(line) for each 64-byte line of layer l's keys and values, block by block.
  auto kv_lines = [&](size_t l, auto fn) {
    for (size_t b = 0; b < blocks; ++b) {
      const size_t bytes = std::min(kBlock, a.positions - b * kBlock) * kv_width * sizeof(uint16_t);
      const char* keys =
          reinterpret_cast<const char*>(cache.data() + (b * a.layers + l) * 2 * slot);
      const char* values = keys + slot * sizeof(uint16_t);
      for (size_t at = 0; at < bytes; at += 64) fn(keys + at);
      for (size_t at = 0; at < bytes; at += 64) fn(values + at);
    }
  };
  std::vector<const char*> lines;
  auto token = [&](bool heads) {
    double seconds = 0;
    for (size_t l = 0; l < a.layers; ++l) {
      float s = 0;
      const float* w = weights.data() + (a.weights_mb > 0 ? l * layer_floats : 0);
      lines.clear();
      if (a.prefetch == 2) kv_lines(l, [&](const char* p) { lines.push_back(p); });
      size_t next = 0;
      for (size_t i = 0; a.flush && i < layer_floats; i += 16) {
        if (a.nt) __builtin_prefetch(w + i + 1024, 0, 0);  // prefetchnta on x86
        if (next < lines.size() && 2 * i >= layer_floats && (i / 16) % 4 == 0) {
          __builtin_prefetch(lines[next++], 0, 3);
        }
        s += w[i];
      }
      sink += s;
      const auto start = Clock::now();
      if (a.prefetch == 1) kv_lines(l, [](const char* p) { __builtin_prefetch(p, 0, 3); });
      std::fill(out.begin(), out.end(), 0.0f);
      for (size_t b = 0; b < blocks; ++b) {
        const size_t rows = std::min(kBlock, a.positions - b * kBlock);
        const uint16_t* keys = cache.data() + (b * a.layers + l) * 2 * slot;
        const uint16_t* values = keys + slot;
        if (heads) {
          const size_t slice = a.slice > 0 ? a.slice : a.kv_heads;
          for (size_t h = 0; h < a.kv_heads; h += slice) {
            const size_t n = std::min(slice, a.kv_heads - h);
            const size_t at = h * a.group;  // first query of the slice
            k.attention_scores_heads_f16(keys + h * kHeadDim, kv_width, rows, n,
                                         q.data() + at * kHeadDim, a.group, kHeadDim,
                                         scores.data() + at * kBlock, kBlock);
            k.attention_values_heads_f16(values + h * kHeadDim, kv_width, rows, n,
                                         scores.data() + at * kBlock, kBlock, a.group, kHeadDim,
                                         out.data() + at * kHeadDim, a.group * kHeadDim);
          }
          continue;
        }
        for (size_t h = 0; h < a.kv_heads; ++h) {
          float* sc = scores.data() + h * a.group * kBlock;
          k.attention_scores_f16(keys + h * kHeadDim, kv_width, rows,
                                 q.data() + h * a.group * kHeadDim, a.group, kHeadDim, sc, kBlock);
          k.attention_values_f16(values + h * kHeadDim, kv_width, rows, sc, kBlock, a.group,
                                 kHeadDim, out.data() + h * a.group * kHeadDim);
        }
      }
      seconds += std::chrono::duration<double>(Clock::now() - start).count();
      sink += out[0];
    }
    return seconds;
  };

  const double bytes = double(a.layers) * a.positions * kv_width * 2 * sizeof(uint16_t);
  std::printf(
      "attention reads (%s): %zu KV heads x group %zu, %zu layers, %zu positions, "
      "%.1f MB of cache per token\n",
      std::string(k.isa).c_str(), a.kv_heads, a.group, a.layers, a.positions, bytes / 1e6);
  std::vector<double> times[2];
  for (size_t r = 0; r < a.reps; ++r) {
    for (int heads = 0; heads < 2; ++heads) times[heads].push_back(token(heads == 1));
  }
  const char* names[2] = {"head by head", "heads side by side"};
  for (int heads = 0; heads < 2; ++heads) {
    std::vector<double>& t = times[heads];
    std::sort(t.begin(), t.end());
    std::printf("  %-19s best %6.3f ms (%5.1f GB/s), median %6.3f ms\n", names[heads], t[0] * 1e3,
                bytes / t[0] / 1e9, t[t.size() / 2] * 1e3);
  }
  return sink == 12345.0f ? 1 : 0;
}
