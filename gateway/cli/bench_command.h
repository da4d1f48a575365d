#pragma once
// `switchyard bench --config FILE [--backend NAME] [--model NAME] [--sequences N]
//  [--prompt-tokens P] [--tokens T] [--threads N] [--no-write]`: measures a configured local
// model's sustained throughput on the real serving engine and writes it into the config as the
// backend's `hardware.tokens_per_second` (decode) and `hardware.prompt_tokens_per_second`
// (prefill), which the pricing divides the machine's hourly cost by
// (backends/pricing/README.md).
//
// The workload (the same on every machine, so figures compare):
//   - the model is loaded as `serve` loads it (its kv_budget, threads and max_running; N is
//     capped at max_running, the most the served engine batches), the prefix cache off so
//     every prompt token is computed;
//   - warm-up: one sequence of 8 prompt + 8 generated tokens, not counted;
//   - prefill: N sequences of P prompt tokens (a fixed English text, tokenized and repeated,
//     each sequence starting at a different offset) submitted at once, 1 token generated each:
//     prompt tokens/s = N * P / (submit -> last sequence ended);
//   - decode: N sequences of P prompt tokens generating T tokens each (greedy, EOS ignored)
//     submitted at once: tokens/s = tokens generated between the moment all N are generating
//     and the last one ending, divided by that time.
// Figures are rounded down to whole tokens/s (at least 1): a slightly low throughput prices
// a token slightly high, never below cost.

#include <cstddef>
#include <string>

namespace CLI {
class App;
}

namespace sy::engine {
class Model;
struct ServingOptions;
}  // namespace sy::engine

namespace sy::gateway {

struct BenchWorkload {
  size_t sequences = 8;
  size_t prompt_tokens = 128;
  size_t generated_tokens = 128;
};

struct BenchResult {
  double prompt_tokens_per_second = 0;
  double output_tokens_per_second = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;  // the measured window of the decode phase
  size_t decode_window_tokens = 0;
};

// Runs the workload on a ServingEngine over `model` with `options` (prefix_cache is turned
// off). Throws std::runtime_error when the workload does not fit the context or a sequence
// fails.
BenchResult run_throughput_bench(const engine::Model& model, engine::ServingOptions options,
                                 const BenchWorkload& workload);

struct BenchCommandOptions {
  std::string config_path;
  std::string backend;  // "" = the only local backend
  std::string model;    // "" = the backend's first model
  BenchWorkload workload;
  size_t threads = 0;  // 0 = the model's configured threads
  bool write = true;
};

// Returns the process exit code (0 ok, 1 failure); errors are one line on stderr.
int run_bench(const BenchCommandOptions& options);

void add_bench_command(CLI::App& app, int& exit_code);

}  // namespace sy::gateway
