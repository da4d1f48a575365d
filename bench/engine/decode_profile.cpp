// Where one decode step's time goes (issue 4): the loop of generate() (sample, the chosen
// token's logprob, detokenize, one forward pass) run by hand over a synthetic model, with the
// forward pass's own per-op wall times (LlamaCpu::set_profile) and the thread pool's dispatch
// count and wait. Prints milliseconds per generated token for every part, the wall and CPU time
// per token (CPU of the process: all threads, spinning workers included; and of the calling
// thread), then one JSON line with the same figures.
//
//   engine_decode_profile --model M.gguf [--prompt-tokens 512] [--gen 128] [--threads 1]
//
// The prompt is " the" repeated (one token each in SmolLM2's vocabulary), as bench/engine/run.sh
// sends it; decoding is greedy with --ignore-eos semantics.

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/llama_cpu.h"
#include "runtime/text_streamer.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/sampler.h"

namespace {

using namespace sy::engine;
using Clock = std::chrono::steady_clock;

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Args {
  std::string model;
  size_t prompt_tokens = 512;
  size_t gen = 128;
  size_t threads = 1;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") {
      a.model = v;
    } else if (k == "--prompt-tokens") {
      a.prompt_tokens = std::stoul(v);
    } else if (k == "--gen") {
      a.gen = std::stoul(v);
    } else if (k == "--threads") {
      a.threads = std::stoul(v);
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  if (a.model.empty() || a.prompt_tokens == 0 || a.gen == 0) {
    std::fprintf(stderr, "usage: engine_decode_profile --model M.gguf [options]\n");
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  auto model = Model::load(a.model);
  const Tokenizer& tokenizer = model->tokenizer();
  std::string prompt = "the";
  for (size_t i = 1; i < a.prompt_tokens; ++i) prompt += " the";
  std::vector<TokenId> history = tokenizer.encode(prompt, {.add_special = false});
  LlamaCpu cpu(*model, history.size() + a.gen + 1, a.threads);
  std::span<const float> logits = cpu.forward_batch(history, 0);

  Sampler sampler(SamplerOptions{});
  TextStreamer streamer(tokenizer, {});
  ForwardProfile profile;
  double sample_s = 0, logprob_s = 0, detok_s = 0, forward_s = 0;
  size_t pos = history.size();
  // One step first, unmeasured: the first pass over the weights after the prefill.
  auto step = [&](bool measure) {
    auto t = Clock::now();
    const TokenId next = sampler.sample(logits, history);
    if (measure) sample_s += since(t);
    t = Clock::now();
    const float lp = token_logprob(logits, next);
    if (measure) logprob_s += since(t);
    t = Clock::now();
    history.push_back(next);
    streamer.push(next);
    if (measure) detok_s += since(t);
    t = Clock::now();
    logits = cpu.forward(next, pos++);
    if (measure) forward_s += since(t);
    return lp;
  };
  step(false);
  // A profiler may attach from here (perf record -p): only decode steps follow.
  std::fprintf(stderr, "decoding\n");
  cpu.set_profile(&profile);
  const double cpu0 = process_cpu_seconds(), thread0 = thread_cpu_seconds();
  const auto wall0 = Clock::now();
  for (size_t i = 0; i < a.gen; ++i) step(true);
  const double wall = since(wall0) / a.gen * 1e3;
  const double cpu_ms = (process_cpu_seconds() - cpu0) / a.gen * 1e3;
  const double thread_ms = (thread_cpu_seconds() - thread0) / a.gen * 1e3;
  cpu.set_profile(nullptr);

  const double per = 1e3 / a.gen;
  double ops_ms = 0;
  std::string wait_json = ",\"wait_ms\":{";
  std::printf("decode profile: %s, prompt %zu, %zu tokens, %zu thread(s); ms per token\n",
              a.model.c_str(), a.prompt_tokens, a.gen, a.threads);
  std::string json = "{\"threads\":" + std::to_string(a.threads) +
                     ",\"position\":" + std::to_string(a.prompt_tokens) + ",\"ops_ms\":{";
  for (size_t op = 0; op < ForwardProfile::kOps; ++op) {
    const double ms = profile.seconds[op] * per;
    ops_ms += ms;
    const double wait_ms = profile.wait[op] * per;
    wait_json += (op ? "," : "") + std::string("\"") + ForwardProfile::kNames[op] + "\":";
    char number[32];
    std::snprintf(number, sizeof(number), "%.4f", wait_ms);
    wait_json += number;
    std::printf("  %-13s %7.3f  %5.1f%%  (%llu calls/token; caller waited %.3f)\n",
                ForwardProfile::kNames[op], ms, 100 * ms / wall,
                static_cast<unsigned long long>(profile.calls[op] / a.gen), wait_ms);
    char item[96];
    std::snprintf(item, sizeof(item), "%s\"%s\":%.4f", op ? "," : "", ForwardProfile::kNames[op],
                  ms);
    json += item;
  }
  const double forward_ms = forward_s * per;
  const struct {
    const char* name;
    double ms;
  } rest[] = {{"forward_other", forward_ms - ops_ms},
              {"sample", sample_s * per},
              {"logprob", logprob_s * per},
              {"detokenize", detok_s * per}};
  for (const auto& r : rest) {
    std::printf("  %-13s %7.3f  %5.1f%%\n", r.name, r.ms, 100 * r.ms / wall);
    char item[96];
    std::snprintf(item, sizeof(item), ",\"%s\":%.4f", r.name, r.ms);
    json += item;
  }
  std::printf("  pool: %.1f parallel_for per token, caller waited %.3f ms per token\n",
              double(profile.pool.calls) / a.gen, profile.pool.wait_seconds * per);
  std::printf("  wall %.3f ms/token (%.1f tok/s); CPU %.3f ms/token (process), %.3f (caller)\n",
              wall, 1e3 / wall, cpu_ms, thread_ms);
  char tail[256];
  std::snprintf(tail, sizeof(tail),
                ",\"pool_calls\":%.1f,\"pool_wait_ms\":%.4f,\"wall_ms\":%.4f,\"cpu_ms\":%.4f,"
                "\"caller_cpu_ms\":%.4f}",
                double(profile.pool.calls) / a.gen, profile.pool.wait_seconds * per, wall, cpu_ms,
                thread_ms);
  std::printf("%s}%s}%s\n", json.c_str(), wait_json.c_str(), tail);
  return 0;
}
