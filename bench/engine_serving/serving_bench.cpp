// ServingEngine in-process: N concurrent greedy streams (distinct prompts, no shared prefix),
// all submitted at once, each generating --gen tokens with --ignore-eos semantics. Prints one
// JSON line per stream count:
//   aggregate generated tok/s (first submit to last end, prefill included), decode tok/s
//   (N / median inter-token latency, the steady state), p50/p99 time to first token and
//   inter-token latency, steps, and the memory ceiling of a decode step measured in the same run:
//   N * bandwidth / (weight bytes + N * KV bytes of the mean position), when --bandwidth-gbs and
//   --weight-bytes are given (bench/engine_serving/run.sh measures and passes them); the compute
//   ceiling N * peak / (2 * multiply-adds of the weights per token) from --peak-gops (PERF.md's
//   int8 VNNI peak at the thread count); the mean inter-token latency and p99 / mean; and the same
//   latencies in process CPU time (CPU time between a stream's tokens: the work of the steps
//   between them, whatever else the machine runs; with --threads 1 it is the step cost itself).
//   --prefill-ratio sets ServingOptions::prefill_ratio (0: prefill fills the step budget).
//
//   bench_engine_serving --model M.gguf [--streams 1,4,16,64] [--prompt-tokens 64] [--gen 32]
//                        [--threads 2] [--bandwidth-gbs X] [--weight-bytes B]
//                        [--kv-bytes-per-position K] [--peak-gops G] [--prefill-ratio R]
//                        [--trace 1]  (per token index: median and slowest gap, on stderr)

#include <time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/serving_engine.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace sy::engine;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

struct Args {
  std::string model;
  std::vector<size_t> streams = {1, 4, 16, 64};
  size_t prompt_tokens = 64;
  size_t gen = 32;
  size_t threads = 2;
  double bandwidth_gbs = 0;
  double weight_bytes = 0;
  double kv_bytes_per_position = 0;
  bool trace = false;  // --trace 1: per-token-index gaps on stderr
  double peak_gops = 0;
  double prefill_ratio = ServingOptions{}.prefill_ratio;
};

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / v.size();
}

// Multiply-adds of the weight matrices one token reads (the output projection included).
double macs_per_token(const ModelConfig& c) {
  const double q = double(c.n_heads) * c.head_dim, kv = double(c.n_kv_heads) * c.head_dim;
  const double layer = c.dim * (q + 2 * kv) + q * c.dim + 3.0 * c.dim * c.ffn_dim;
  return c.n_layers * layer + double(c.n_vocab) * c.dim;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model")
      a.model = v;
    else if (k == "--streams") {
      a.streams.clear();
      std::stringstream ss(v);
      for (std::string s; std::getline(ss, s, ',');) a.streams.push_back(std::stoul(s));
    } else if (k == "--prompt-tokens")
      a.prompt_tokens = std::stoul(v);
    else if (k == "--gen")
      a.gen = std::stoul(v);
    else if (k == "--threads")
      a.threads = std::stoul(v);
    else if (k == "--bandwidth-gbs")
      a.bandwidth_gbs = std::stod(v);
    else if (k == "--weight-bytes")
      a.weight_bytes = std::stod(v);
    else if (k == "--peak-gops")
      a.peak_gops = std::stod(v);
    else if (k == "--prefill-ratio")
      a.prefill_ratio = std::stod(v);
    else if (k == "--kv-bytes-per-position")
      a.kv_bytes_per_position = std::stod(v);
    else if (k == "--trace")
      a.trace = v != "0";
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  if (a.model.empty()) {
    std::fprintf(stderr, "usage: bench_engine_serving --model M.gguf [options]\n");
    std::exit(2);
  }
  return a;
}

struct Stream {
  std::vector<Clock::time_point> token_times;
  std::vector<double> token_cpu;  // process CPU seconds at each token
  double first_token_seconds = 0;
  bool ended = false;
};

void run(const Model& model, const Args& a, size_t n, bool print) {
  ServingOptions o;
  o.threads = a.threads;
  o.max_running = std::max<size_t>(n, 1);
  o.max_step_tokens = std::max<size_t>(256, n);
  o.prefill_ratio = a.prefill_ratio;
  // F16 keys and values of every layer: room for one full context (the engine's minimum) plus
  // every stream's positions and a partly filled block each.
  const ModelConfig& c = model.config();
  const size_t kv_per_position = 2 * c.n_layers * c.n_kv_heads * c.head_dim * sizeof(uint16_t);
  o.kv_budget_bytes =
      (c.context_length + n * (a.prompt_tokens + a.gen + 2 * o.block_tokens)) * kv_per_position;
  // Declared before the engine, which runs the callbacks that use them until it is destroyed.
  std::mutex mutex;
  std::condition_variable done;
  std::vector<Stream> streams(n);
  size_t ended = 0;
  ServingEngine engine(model, o);
  const auto vocab = static_cast<uint64_t>(model.config().n_vocab);
  const auto start = Clock::now();
  for (size_t s = 0; s < n; ++s) {
    SequenceRequest r;
    // Distinct prompts from the ordinary part of the vocabulary: no prefix is shared.
    for (size_t j = 0; j < a.prompt_tokens; ++j) {
      r.prompt.push_back(static_cast<TokenId>(200 + (s * 7919 + j * 104729 + j * j) % (vocab / 2)));
    }
    r.max_tokens = a.gen;
    r.ignore_eos = true;
    auto handle = engine.submit(
        std::move(r),
        {.on_token =
             [&, s](const GeneratedToken&) {
               std::lock_guard lock(mutex);
               streams[s].token_times.push_back(Clock::now());
               streams[s].token_cpu.push_back(process_cpu_seconds());
             },
         .on_end =
             [&, s](SequenceEnd, std::string_view, const SequenceUsage& usage, std::string_view) {
               std::lock_guard lock(mutex);
               streams[s].first_token_seconds = usage.first_token_seconds;
               ++ended;
               done.notify_all();
             }});
    if (!handle) {
      std::fprintf(stderr, "refused: %s\n", handle.error().message.c_str());
      std::exit(1);
    }
  }
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return ended == n; });
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  if (!print) return;
  if (a.trace) {
    // Where the slow gaps are: for each token index k, the gap before it (wall and process CPU)
    // at the median and the slowest stream, so a spike shows as a step (all streams) or a stream.
    std::fprintf(stderr, "streams %zu: k wall_p50_ms wall_max_ms cpu_p50_ms cpu_max_ms\n", n);
    for (size_t k = 1; k < a.gen; ++k) {
      std::vector<double> wall_k, cpu_k;
      for (const Stream& st : streams) {
        if (k >= st.token_times.size()) continue;
        wall_k.push_back(
            std::chrono::duration<double>(st.token_times[k] - st.token_times[k - 1]).count());
        cpu_k.push_back(st.token_cpu[k] - st.token_cpu[k - 1]);
      }
      if (wall_k.empty()) continue;
      std::fprintf(stderr, "  %2zu %8.1f %8.1f %8.1f %8.1f\n", k, percentile(wall_k, 0.5) * 1e3,
                   *std::max_element(wall_k.begin(), wall_k.end()) * 1e3,
                   percentile(cpu_k, 0.5) * 1e3,
                   *std::max_element(cpu_k.begin(), cpu_k.end()) * 1e3);
    }
  }

  std::vector<double> ttft, itl, itl_cpu;
  size_t tokens = 0;
  for (const Stream& st : streams) {
    ttft.push_back(st.first_token_seconds);
    tokens += st.token_times.size();
    for (size_t k = 1; k < st.token_times.size(); ++k) {
      itl.push_back(
          std::chrono::duration<double>(st.token_times[k] - st.token_times[k - 1]).count());
      itl_cpu.push_back(st.token_cpu[k] - st.token_cpu[k - 1]);
    }
  }
  const ServingStats stats = engine.stats();
  const double itl_p50 = percentile(itl, 0.5);
  const double decode_tok_s = itl_p50 > 0 ? n / itl_p50 : 0;
  double ceiling = 0;
  if (a.bandwidth_gbs > 0 && a.weight_bytes > 0) {
    const double mean_position = a.prompt_tokens + a.gen / 2.0;
    const double step_bytes = a.weight_bytes + n * mean_position * a.kv_bytes_per_position;
    ceiling = n * a.bandwidth_gbs * 1e9 / step_bytes;
  }
  const double compute_ceiling =
      a.peak_gops > 0 ? a.peak_gops * 1e9 / (2 * macs_per_token(model.config())) : 0;
  const double itl_mean = mean(itl), itl_cpu_mean = mean(itl_cpu);
  std::printf(
      "{\"streams\":%zu,\"threads\":%zu,\"prompt_tokens\":%zu,\"gen\":%zu,\"tokens\":%zu,"
      "\"wall_s\":%.3f,\"aggregate_tok_s\":%.2f,\"decode_tok_s\":%.2f,\"ceiling_tok_s\":%.2f,"
      "\"ttft_p50_ms\":%.1f,\"ttft_p99_ms\":%.1f,\"itl_p50_ms\":%.1f,\"itl_p99_ms\":%.1f,"
      "\"itl_mean_ms\":%.1f,\"itl_p99_over_mean\":%.2f,\"compute_ceiling_tok_s\":%.1f,"
      "\"itl_cpu_p50_ms\":%.1f,\"itl_cpu_p99_ms\":%.1f,\"itl_cpu_mean_ms\":%.1f,"
      "\"itl_cpu_p99_over_mean\":%.2f,\"prefill_ratio\":%.2f,"
      "\"steps\":%llu,\"prefill_tokens\":%llu}\n",
      n, a.threads, a.prompt_tokens, a.gen, tokens, wall, tokens / wall, decode_tok_s, ceiling,
      percentile(ttft, 0.5) * 1e3, percentile(ttft, 0.99) * 1e3, itl_p50 * 1e3,
      percentile(itl, 0.99) * 1e3, itl_mean * 1e3,
      itl_mean > 0 ? percentile(itl, 0.99) / itl_mean : 0.0, compute_ceiling,
      percentile(itl_cpu, 0.5) * 1e3, percentile(itl_cpu, 0.99) * 1e3, itl_cpu_mean * 1e3,
      itl_cpu_mean > 0 ? percentile(itl_cpu, 0.99) / itl_cpu_mean : 0.0, a.prefill_ratio,
      static_cast<unsigned long long>(stats.steps),
      static_cast<unsigned long long>(stats.prefill_tokens));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  auto model = Model::load(a.model);
  // Warm-up: touches the weights (page cache, mapping) and the kernels once.
  Args warm = a;
  warm.gen = 4;
  run(*model, warm, 1, false);
  for (size_t n : a.streams) run(*model, a, n, true);
  return 0;
}
