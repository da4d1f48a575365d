// Memory read bandwidth for bench/engine/run.sh (the method of ../shared/PERF.md): each thread
// streams its own slice of a buffer far larger than the caches through the selected kernel
// set's read_lines (AVX-512 where the processor has it, else AVX2, else portable; the loop
// `generate --stats-json` reads the engine's own weights with), all threads starting together; a
// run's bandwidth is the bytes read over the wall time of the slowest thread. Prints, per thread
// count, the median and best of the runs as one JSON line each:
//   {"threads":2,"median_gbs":32.5,"best_gbs":38.4,"runs":10}
//
//   engine_bandwidth [--mib 1024] [--runs 10] [--threads 1,2]

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace {

using sy::engine::kernels::CpuKernels;

// The selected kernel set's read_lines: every 64-byte line summed at the set's full width into
// independent sums, the loop LlamaCpu::weights_read_bytes_per_second reads the weights with.
const CpuKernels& kernels = sy::engine::kernels::select_cpu_kernels();

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};

// One run: `threads` threads each read their slice; seconds from the common start to the last
// thread's end.
double timed_read(const std::byte* buffer, size_t bytes, size_t threads,
                  std::atomic<uint64_t>& sink) {
  std::atomic<size_t> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  const size_t slice = bytes / threads / 256 * 256;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      const std::byte* p = buffer + t * slice;
      sink += kernels.read_lines(p, slice);
    });
  }
  while (ready.load() < threads) {
  }
  const auto start = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = 1024, runs = 10;
  std::vector<size_t> thread_counts = {1, 2};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--mib") {
      mib = std::stoul(argv[i + 1]);
    } else if (flag == "--runs") {
      runs = std::stoul(argv[i + 1]);
    } else if (flag == "--threads") {
      thread_counts.clear();
      std::stringstream list(argv[i + 1]);
      for (std::string item; std::getline(list, item, ',');) thread_counts.push_back(std::stoul(item));
    }
  }
  const size_t bytes = mib << 20;
  // In 2 MiB pages where the kernel gives them, as LlamaCpu holds the weights it reads per
  // token: the ceiling is then what the engine's own kind of memory allows.
  constexpr size_t kHuge = size_t{2} << 20;
  std::unique_ptr<std::byte, FreeDeleter> buffer(
      static_cast<std::byte*>(std::aligned_alloc(kHuge, bytes)));
  ::madvise(buffer.get(), bytes, MADV_HUGEPAGE);
  // Touch every page (and give it non-zero content) so no run pays for page faults.
  for (size_t i = 0; i < bytes; i += 64) buffer.get()[i] = std::byte(i >> 6);
  std::atomic<uint64_t> sink{0};
  for (size_t threads : thread_counts) {
    timed_read(buffer.get(), bytes, threads, sink);  // warm-up
    std::vector<double> gbs;
    for (size_t r = 0; r < runs; ++r) {
      const size_t read = bytes / threads / 256 * 256 * threads;
      gbs.push_back(read / timed_read(buffer.get(), bytes, threads, sink) / 1e9);
    }
    std::sort(gbs.begin(), gbs.end());
    std::printf(
        "{\"threads\":%zu,\"median_gbs\":%.2f,\"best_gbs\":%.2f,\"runs\":%zu,\"isa\":\"%s\"}\n",
        threads, gbs[gbs.size() / 2], gbs.back(), runs, kernels.isa.data());
  }
  return 0;
}
