// engine_cuda_bench: batch-1 generation speed of the CUDA pass against the floor set by the
// card's own device-memory bandwidth, measured in the same run (issue 6, "Benchmark").
//
//   engine_cuda_bench [--gen N] [--prompt N] MODEL.gguf...
//
// Floor: tokens/s = device-to-device copy bandwidth (bytes read + written per second, the best
// of 20 copies of 256 MiB) / bytes of weights one generated token reads (every matrix but the
// token embedding table, of which it reads one row; the table again when the output is tied).
// Ratio = measured / floor. Without a GPU (or without CUDA in the build) it says so and exits 0,
// so scripts can call it anywhere. Multi-stream (16 / 64) throughput needs a batched GPU step,
// which LlamaCuda does not have yet: not measured here.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_api.h"
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
  std::printf("%-40s %10s %12s %12s %8s\n", "model", "MiB/token", "gen tok/s", "floor tok/s",
              "ratio");
  for (const std::string& path : models) {
    try {
      auto model = sy::engine::Model::load(path);
      const size_t positions = prompt + gen + 1;
      sy::engine::LlamaCuda gpu(*model, positions);
      std::vector<sy::engine::TokenId> tokens(prompt);
      for (size_t i = 0; i < prompt; ++i) {
        tokens[i] = static_cast<sy::engine::TokenId>((i * 131 + 17) % model->config().n_vocab);
      }
      gpu.forward_batch(tokens, 0);
      const auto start = Clock::now();
      for (size_t i = 0; i < gen; ++i) {
        gpu.forward(static_cast<sy::engine::TokenId>((i * 7) % model->config().n_vocab),
                    prompt + i);
      }
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      const double tok_s = static_cast<double>(gen) / seconds;
      const double bytes = weight_bytes_per_token(*model);
      const double floor = bandwidth / bytes;
      std::printf("%-40s %10.1f %12.1f %12.1f %7.0f%%\n", path.c_str(), bytes / (1 << 20), tok_s,
                  floor, 100.0 * tok_s / floor);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "engine_cuda_bench: %s: %s\n", path.c_str(), e.what());
      return 1;
    }
  }
  return 0;
}
