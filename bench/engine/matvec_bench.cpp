// How fast the decode path's matrix-vector kernels stream weights (issue 4): kernels::matvec_rows
// of the selected kernel set over a matrix of the given type, rows split in contiguous shares
// across threads as LlamaCpu::matvec splits them. Two working sets: the first rows of a matrix
// (512 KiB a thread: they stay in L2, what the arithmetic allows) and a ring of matrices larger
// than the L3 (what memory feeding it allows). Prints GB/s of weights read and ns per row for
// each, per CPU second of the calling thread (with more threads it also spins for the others).
//
//   engine_matvec_bench [--type q4_k] [--rows 2048] [--cols 2048] [--threads 1] [--reps 200]
//                       [--ring-mb 512] [--rounds 3] [--huge 0|1]

#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/matvec.h"
#include "kernels/cpu/row_groups.h"
#include "switchyard/local_engine/tensor_type.h"

namespace {

using namespace sy::engine;
using namespace sy::engine::kernels;

struct Args {
  std::string type = "q4_k";
  size_t rows = 2048, cols = 2048, threads = 1, reps = 200, ring_mb = 512, rounds = 3;
  bool huge = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--type")
      a.type = v;
    else if (k == "--rows")
      a.rows = std::stoul(v);
    else if (k == "--cols")
      a.cols = std::stoul(v);
    else if (k == "--threads")
      a.threads = std::stoul(v);
    else if (k == "--reps")
      a.reps = std::stoul(v);
    else if (k == "--ring-mb")
      a.ring_mb = std::stoul(v);
    else if (k == "--rounds")
      a.rounds = std::stoul(v);
    else if (k == "--huge")
      a.huge = v == "1";
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

TensorType parse_type(const std::string& s) {
  if (s == "q8_0") return TensorType::q8_0;
  if (s == "q4_0") return TensorType::q4_0;
  if (s == "q4_k") return TensorType::q4_k;
  if (s == "q6_k") return TensorType::q6_k;
  std::fprintf(stderr, "--type: q8_0, q4_0, q4_k or q6_k\n");
  std::exit(2);
}

// One row of random weights (scale of a real model's) in `type`.
void quantize_row(TensorType type, const float* x, std::byte* out, size_t n) {
  switch (type) {
    case TensorType::q8_0:
      return quantize_row_q8_0(x, reinterpret_cast<BlockQ8_0*>(out), n);
    case TensorType::q4_0:
      return quantize_row_q4_0(x, reinterpret_cast<BlockQ4_0*>(out), n);
    case TensorType::q4_k:
      return quantize_row_q4_k(x, reinterpret_cast<BlockQ4_K*>(out), n);
    default:
      return quantize_row_q6_k(x, reinterpret_cast<BlockQ6_K*>(out), n);
  }
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// The caller's CPU seconds (the machines are shared: wall time says little) per round of
// share(i, rep) on `threads` threads (the caller is thread 0), each thread joining through a
// spinning barrier per round as the pool does.
template <class Share>
double time_rounds(size_t threads, size_t reps, Share share) {
  std::atomic<size_t> go{0}, done{0};
  std::vector<std::thread> workers;
  for (size_t i = 1; i < threads; ++i) {
    workers.emplace_back([&, i] {
      for (size_t rep = 0; rep < reps; ++rep) {
        while (go.load(std::memory_order_acquire) <= rep) {
        }
        share(i, rep);
        done.fetch_add(1, std::memory_order_acq_rel);
      }
    });
  }
  const double t0 = thread_cpu_seconds();
  for (size_t rep = 0; rep < reps; ++rep) {
    go.store(rep + 1, std::memory_order_release);
    share(0, rep);
    while (done.load(std::memory_order_acquire) < (rep + 1) * (threads - 1)) {
    }
  }
  const double s = thread_cpu_seconds() - t0;
  for (auto& w : workers) w.join();
  return s / reps;
}

// Seconds per matvec over `mats` (visited in turn), rows split over the threads.
double time_matvecs(const CpuKernels& k, const std::vector<MatrixView>& mats, const float* x,
                    const MatvecScratch& scratch, float* out, size_t threads, size_t reps) {
  return time_rounds(threads, reps, [&](size_t i, size_t rep) {
    const MatrixView& w = mats[rep % mats.size()];
    matvec_rows(k, w, x, scratch, out, w.rows * i / threads, w.rows * (i + 1) / threads);
  });
}

// Seconds per plain read (the kernel set's read_lines, the probe's loop) of each matrix of
// `mats` in turn, split over the threads as the rows are: the same pages at the same thread
// count, so `streamed` can be read against what this memory gives a plain read.
double time_reads(const CpuKernels& k, const std::vector<MatrixView>& mats, size_t mat_bytes,
                  size_t threads, size_t reps) {
  std::atomic<uint64_t> sink{0};
  return time_rounds(threads, reps, [&](size_t i, size_t rep) {
    const auto* p = static_cast<const std::byte*>(mats[rep % mats.size()].data);
    const size_t pieces = mat_bytes / 256;
    const size_t a = pieces * i / threads, b = pieces * (i + 1) / threads;
    sink.fetch_add(k.read_lines(p + a * 256, (b - a) * 256), std::memory_order_relaxed);
  });
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  const TensorType type = parse_type(a.type);
  const auto traits = tensor_type_traits(type);
  const size_t row_bytes = a.cols / traits.block_size * traits.block_bytes;
  const size_t mat_bytes = row_bytes * a.rows;
  const size_t ring = std::max<size_t>(1, (a.ring_mb << 20) / mat_bytes);

  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> row(a.cols), x(a.cols);
  for (float& v : x) v = dist(rng) * 50;
  // One quantized matrix, copied around the ring (the bytes do not change the speed).
  std::vector<std::byte> first(mat_bytes);
  for (size_t r = 0; r < a.rows; ++r) {
    for (float& v : row) v = dist(rng);
    quantize_row(type, row.data(), first.data() + r * row_bytes, a.cols);
  }
  // Q8_0 / Q4_0 in 16-row groups, as LlamaCpu regroups them at load (kernels/cpu/row_groups.h).
  const bool grouped = groupable(type);
  if (grouped) regroup(type, a.cols, first.data(), first.data(), a.rows / kGroupRows);
  // The ring in one anonymous mapping, in 2 MiB pages with --huge 1 (as LlamaCpu holds the
  // weights it copies at load), else in 4 KiB pages.
  const size_t ring_bytes = ring * mat_bytes;
  void* mem = ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
  if (mem == MAP_FAILED) return 1;
  ::madvise(mem, ring_bytes, a.huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  std::vector<std::byte*> storage;
  for (size_t i = 0; i < ring; ++i) {
    storage.push_back(static_cast<std::byte*>(mem) + i * mat_bytes);
    std::memcpy(storage.back(), first.data(), mat_bytes);
  }
  std::vector<MatrixView> all, one;
  for (std::byte* s : storage) all.push_back({type, s, a.rows, a.cols, grouped});
  // The in-cache set: the first rows of one matrix, 512 KiB per thread (whole groups: a
  // grouped view's rows past its last group are read as row-major).
  size_t hot_rows = std::clamp<size_t>((a.threads << 19) / row_bytes, 1, a.rows);
  if (grouped && hot_rows >= kGroupRows && hot_rows < a.rows) hot_rows -= hot_rows % kGroupRows;
  one.push_back({type, storage[0], hot_rows, a.cols, grouped});

  const CpuKernels& k = select_cpu_kernels();
  MatvecScratch scratch;
  quantize_activations(all[0], x.data(), scratch);
  std::vector<float> out(a.rows);
  const size_t hot_bytes = hot_rows * row_bytes;
  const size_t ring_reps = std::max<size_t>(ring, 30);
  std::printf("%s %s %zux%zu, %zu thread(s), %.2f MB/matrix, ring of %zu; GB/s per CPU second\n",
              std::string(k.isa).c_str(), a.type.c_str(), a.rows, a.cols, a.threads,
              mat_bytes / 1e6, ring);
  for (size_t round = 0; round < a.rounds; ++round) {
    time_matvecs(k, one, x.data(), scratch, out.data(), a.threads, 10);  // warm
    const double hot = time_matvecs(k, one, x.data(), scratch, out.data(), a.threads, a.reps * 10);
    const double cold = time_matvecs(k, all, x.data(), scratch, out.data(), a.threads, ring_reps);
    const double read = time_reads(k, all, mat_bytes, a.threads, ring_reps);
    std::printf(
        "  round %zu: in L2 %5.1f GB/s (%6.1f ns/row), streamed %5.1f GB/s (%6.1f ns/row), "
        "plain read of the ring %5.1f GB/s (streamed/read %.2f)\n",
        round, hot_bytes / hot / 1e9, hot / hot_rows * 1e9, mat_bytes / cold / 1e9,
        cold / a.rows * 1e9, mat_bytes / read / 1e9, read / cold);
  }
}
