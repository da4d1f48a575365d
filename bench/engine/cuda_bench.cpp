// engine_cuda_bench: generation speed (1, 16, 64 streams) of the CUDA pass against the floor set by
// the card's own device-memory bandwidth, measured in the same run (issue 6, "Benchmark").
//
//   engine_cuda_bench [--gen N] [--prompt N] MODEL.gguf...
//
// Floor: tokens/s = device-to-device copy bandwidth (bytes read + written per second, the best
// of 20 copies of 256 MiB) / bytes of weights one generated token reads (every matrix but the
// token embedding table, of which it reads one row; the table again when the output is tied).
// Ratio = measured / floor. Aggregate throughput at 16 and 64 streams: that many sequences
// prefilled together, then decoded one token each per forward_step over a shared paged cache
// (its floor: `streams` tokens per step, at one read of the weights per step; the ratio falls
// as steps become compute-bound). Without a GPU (or without CUDA in the build) it says so and exits
// 0, so scripts can call it anywhere.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_api.h"
#include "runtime/kv_cache.h"
#include "runtime/llama_cuda.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"

namespace {

using Clock = std::chrono::steady_clock;

double weight_bytes_per_token(const sy::engine::Model& model) {
  double bytes = 0;
  for (const sy::engine::GgufTensor& t : model.file()->tensors()) {
    if (t.shape.size() != 2) continue;
    if (t.name == "token_embd.weight" && !model.config().tied_output) continue;
    bytes += static_cast<double>(t.n_bytes);
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  size_t gen = 128, prompt = 32;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--gen" && i + 1 < argc) {
      gen = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--prompt" && i + 1 < argc) {
      prompt = std::strtoul(argv[++i], nullptr, 10);
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "usage: engine_cuda_bench [--gen N] [--prompt N] MODEL.gguf...\n");
      return 2;
    } else {
      models.push_back(a);
    }
  }
  const sy::engine::CudaDeviceSummary device = sy::engine::describe_cuda_device();
  if (!device.found) {
    std::printf("engine_cuda_bench: no GPU here (%s); nothing measured\n", device.text.c_str());
    return 0;
  }
  std::printf("device: %s\n", device.text.c_str());
  double bandwidth = 0;
  if (auto s = sy::engine::cuda::measure_copy_bandwidth(size_t{256} << 20, 20, bandwidth);
      !s.ok()) {
    std::fprintf(stderr, "engine_cuda_bench: %s\n", s.error.c_str());
    return 1;
  }
  std::printf("device-to-device copy: %.1f GB/s (read + write)\n", bandwidth / 1e9);
  std::printf("%-40s %8s %10s %12s %12s %8s\n", "model", "streams", "MiB/step", "gen tok/s",
              "floor tok/s", "ratio");
  for (const std::string& path : models) {
    try {
      auto model = sy::engine::Model::load(path);
      const double bytes = weight_bytes_per_token(*model);
      const size_t n_vocab = model->config().n_vocab;
      for (size_t streams : {size_t{1}, size_t{16}, size_t{64}}) {
        const size_t positions = prompt + gen + 1;
        const size_t per_seq = (positions + 15) / 16;
        sy::engine::KvCache cache(model->config(),
                                  {.block_tokens = 16, .max_blocks = streams * per_seq});
        sy::engine::LlamaCuda gpu(*model, cache, std::max<size_t>(128, streams), positions);
        std::vector<sy::engine::KvSequence> seqs(streams);
        std::vector<std::vector<sy::engine::TokenId>> prompts(streams);
        std::vector<sy::engine::BatchSequence> batch(streams);
        for (size_t s = 0; s < streams; ++s) {
          cache.reserve(seqs[s], positions);
          prompts[s].resize(prompt);
          for (size_t i = 0; i < prompt; ++i) {
            prompts[s][i] = static_cast<sy::engine::TokenId>((i * 131 + s * 7 + 17) % n_vocab);
          }
          batch[s] = {prompts[s], 0, &seqs[s], true};
        }
        gpu.forward_step(batch);
        std::vector<sy::engine::TokenId> next(streams);
        const auto start = Clock::now();
        for (size_t i = 0; i < gen; ++i) {
          for (size_t s = 0; s < streams; ++s) {
            next[s] = static_cast<sy::engine::TokenId>((i * 7 + s) % n_vocab);
            batch[s] = {std::span(&next[s], 1), prompt + i, &seqs[s], true};
          }
          gpu.forward_step(batch);
        }
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        const double tok_s = static_cast<double>(gen * streams) / seconds;
        const double floor = bandwidth / bytes;  // steps/s the weight traffic allows
        std::printf("%-40s %8zu %10.1f %12.1f %12.1f %7.0f%%\n", path.c_str(), streams,
                    bytes / (1 << 20), tok_s, floor * static_cast<double>(streams),
                    100.0 * tok_s / (floor * static_cast<double>(streams)));
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "engine_cuda_bench: %s: %s\n", path.c_str(), e.what());
      return 1;
    }
  }
  return 0;
}
