// One batched decode step of LlamaCpu::forward_step, timed in CPU time so that it means something
// on a shared, loaded machine: for each N, N sequences are prefilled with --prompt-tokens
// tokens, then --steps decode steps run one token of every sequence (logits for each, as
// serving does). Prints one JSON line per N: CPU ms per step (all threads of the process),
// CPU ms per token, GOP/s of CPU time (2 x the multiply-adds of the weight matrices a token
// reads, attention left out), and the speed-up over N = 1 in the same run (tokens per CPU
// second). With --threads 1 the CPU time is the work itself; wall time is printed beside it.
//
// With --profile 1 it also prints, per N, the step's per-op wall milliseconds
// (LlamaCpu::set_profile) and, as "sample", what serving's choice of each stream's token costs
// after the pass (greedy argmax and the chosen token's logprob, per stream, on this thread; in
// this thread's CPU time).
//
//   bench_engine_step --model M.gguf [--streams 1,4,16,64] [--prompt-tokens 64] [--steps 8]
//                     [--threads 1] [--profile 1]

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/kv_cache.h"
#include "runtime/llama_cpu.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/sampler.h"

namespace {

using namespace sy::engine;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Args {
  std::string model;
  std::vector<size_t> streams{1, 4, 16, 64};
  size_t prompt_tokens = 64;
  size_t steps = 8;
  size_t threads = 1;
  bool profile = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") {
      a.model = v;
    } else if (k == "--streams") {
      a.streams.clear();
      for (size_t at = 0; at < v.size();) {
        const size_t comma = std::min(v.find(',', at), v.size());
        a.streams.push_back(std::stoul(v.substr(at, comma - at)));
        at = comma + 1;
      }
    } else if (k == "--prompt-tokens") {
      a.prompt_tokens = std::stoul(v);
    } else if (k == "--steps") {
      a.steps = std::stoul(v);
    } else if (k == "--threads") {
      a.threads = std::stoul(v);
    } else if (k == "--profile") {
      a.profile = v != "0";
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  if (a.model.empty()) {
    std::fprintf(stderr, "usage: bench_engine_step --model M.gguf [options]\n");
    std::exit(2);
  }
  return a;
}

// Multiply-adds of the weight matrices one token reads (the output projection included).
double macs_per_token(const ModelConfig& c) {
  const double q = double(c.n_heads) * c.head_dim, kv = double(c.n_kv_heads) * c.head_dim;
  const double layer = c.dim * (q + 2 * kv) + q * c.dim + 3.0 * c.dim * c.ffn_dim;
  return c.n_layers * layer + double(c.n_vocab) * c.dim;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  auto model = Model::load(a.model);
  const ModelConfig& c = model->config();
  const size_t vocab = c.n_vocab;
  double base_tok_per_cpu_s = 0;
  for (size_t n : a.streams) {
    const size_t block_tokens = 16;
    const size_t positions = a.prompt_tokens + a.steps + 1;
    const size_t per_seq = (positions + block_tokens - 1) / block_tokens;
    KvCache cache(c, KvCacheOptions{.block_tokens = block_tokens, .max_blocks = n * per_seq});
    const size_t step_tokens = std::max<size_t>(n, 256);
    LlamaCpu cpu(*model, cache, step_tokens, a.threads);
    std::vector<KvSequence> seqs(n);
    std::vector<std::vector<TokenId>> tokens(n);
    for (size_t s = 0; s < n; ++s) {
      for (size_t j = 0; j < positions; ++j) {
        tokens[s].push_back(static_cast<TokenId>(200 + (s * 7919 + j * 104729) % (vocab / 2)));
      }
      if (!cache.reserve(seqs[s], positions)) {
        std::fprintf(stderr, "KV cache too small\n");
        return 1;
      }
    }
    // Prefill every prompt, a few sequences per step.
    for (size_t s = 0; s < n; ++s) {
      const BatchSequence b{std::span<const TokenId>(tokens[s]).first(a.prompt_tokens), 0, &seqs[s],
                            false};
      cpu.forward_step(std::span(&b, 1));
      seqs[s].length = a.prompt_tokens;
    }
    std::vector<BatchSequence> batch(n);
    Sampler greedy(SamplerOptions{});
    double sample_s = 0;
    float logprob_sum = 0;  // keeps the logprobs computed
    auto decode = [&](size_t k) {
      for (size_t s = 0; s < n; ++s) {
        const size_t pos = a.prompt_tokens + k;
        batch[s] = {std::span<const TokenId>(tokens[s]).subspan(pos, 1), pos, &seqs[s], true};
      }
      const auto logits = cpu.forward_step(batch);
      for (auto& s : seqs) ++s.length;
      if (!a.profile) return;
      const double t0 = thread_cpu_seconds();
      for (size_t s = 0; s < n; ++s) {
        const auto row = logits.subspan(s * vocab, vocab);
        logprob_sum += token_logprob(row, greedy.sample(row));
      }
      sample_s += thread_cpu_seconds() - t0;
    };
    decode(0);  // warm-up step
    ForwardProfile profile;
    sample_s = 0;
    if (a.profile) cpu.set_profile(&profile);
    const double cpu0 = cpu_seconds(), wall0 = wall_seconds();
    for (size_t k = 1; k <= a.steps; ++k) decode(k);
    const double cpu_s = (cpu_seconds() - cpu0) / a.steps;
    const double wall_s = (wall_seconds() - wall0) / a.steps;
    cpu.set_profile(nullptr);
    if (a.profile) {
      std::printf("{\"streams\":%zu,\"profile_ms_per_step\":{", n);
      for (size_t op = 0; op < ForwardProfile::kOps; ++op) {
        std::printf("\"%s\":%.3f,", ForwardProfile::kNames[op],
                    profile.seconds[op] * 1e3 / a.steps);
      }
      std::printf("\"sample\":%.3f,\"pool_calls\":%.0f,\"pool_wait\":%.3f},\"logprob_sum\":%.1f}\n",
                  sample_s * 1e3 / a.steps, double(profile.pool.calls) / a.steps,
                  profile.pool.wait_seconds * 1e3 / a.steps, logprob_sum);
    }
    const double tok_per_cpu_s = n / cpu_s;
    if (base_tok_per_cpu_s == 0) base_tok_per_cpu_s = tok_per_cpu_s / n * (n == 1 ? 1 : 0);
    const double gops = 2 * macs_per_token(c) * n / cpu_s / 1e9;
    std::printf(
        "{\"streams\":%zu,\"threads\":%zu,\"position\":%zu,\"cpu_ms_per_step\":%.2f,"
        "\"cpu_ms_per_token\":%.3f,\"wall_ms_per_step\":%.2f,\"gop_s_cpu\":%.1f,"
        "\"speedup_vs_1\":%.2f}\n",
        n, a.threads, a.prompt_tokens, cpu_s * 1e3, cpu_s * 1e3 / n, wall_s * 1e3, gops,
        base_tok_per_cpu_s > 0 ? tok_per_cpu_s / base_tok_per_cpu_s : 0.0);
    std::fflush(stdout);
  }
  return 0;
}
