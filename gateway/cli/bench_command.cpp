#include "cli/bench_command.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/hardware_throughput_edit.h"
#include "switchyard/gateway/config_loader.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/serving_engine.h"

namespace sy::gateway {

namespace {

using Clock = std::chrono::steady_clock;

// Plain narrative text: every tokenizer splits it into ordinary tokens.
constexpr std::string_view kPromptText =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park with her friends. One day, she saw a big red ball under a tree and ran to get it. "
    "Her mother smiled and told her to share the ball with the other children. ";

// One batch of sequences submitted at once, and when its tokens came.
struct BatchRun {
  std::mutex mutex;
  std::condition_variable done;
  size_t total = 0;
  size_t ended = 0;
  size_t generating = 0;  // sequences that have produced their first token
  uint64_t tokens = 0;    // generated so far, all sequences
  Clock::time_point all_generating{};
  uint64_t tokens_when_all_generating = 0;
  Clock::time_point last_end{};
  std::string error;
};

std::vector<engine::TokenId> prompt_tokens(const engine::Model& model, size_t length,
                                           size_t offset) {
  const auto& tokenizer = model.tokenizer();
  const std::vector<engine::TokenId> text =
      tokenizer.encode(kPromptText, engine::EncodeOptions{.add_special = false});
  if (text.empty()) throw std::runtime_error("the tokenizer gives no tokens for the prompt");
  std::vector<engine::TokenId> prompt;
  prompt.reserve(length);
  if (tokenizer.bos() >= 0) prompt.push_back(tokenizer.bos());
  for (size_t i = offset; prompt.size() < length; ++i) prompt.push_back(text[i % text.size()]);
  return prompt;
}

// Submits `count` sequences at once and waits for all of them.
std::shared_ptr<BatchRun> run_batch(engine::ServingEngine& serving, const engine::Model& model,
                                    size_t count, size_t prompt_length, size_t max_tokens,
                                    Clock::time_point& submitted) {
  auto run = std::make_shared<BatchRun>();
  run->total = count;
  std::vector<std::shared_ptr<engine::SequenceHandle>> handles;
  std::vector<engine::SequenceRequest> requests;
  for (size_t i = 0; i < count; ++i) {
    engine::SequenceRequest request;
    request.prompt = prompt_tokens(model, prompt_length, i * 7);
    request.max_tokens = max_tokens;
    request.ignore_eos = true;  // every sequence generates exactly max_tokens
    requests.push_back(std::move(request));
  }
  submitted = Clock::now();
  for (auto& request : requests) {
    auto first = std::make_shared<bool>(true);
    engine::SequenceCallbacks callbacks;
    callbacks.on_token = [run, first](const engine::GeneratedToken&) {
      std::lock_guard lock(run->mutex);
      ++run->tokens;
      if (*first) {
        *first = false;
        if (++run->generating == run->total) {
          run->all_generating = Clock::now();
          run->tokens_when_all_generating = run->tokens;
        }
      }
    };
    callbacks.on_end = [run](engine::SequenceEnd end, std::string_view,
                             const engine::SequenceUsage&, std::string_view error) {
      {
        std::lock_guard lock(run->mutex);
        ++run->ended;
        run->last_end = Clock::now();
        if (end != engine::SequenceEnd::length && end != engine::SequenceEnd::stop &&
            run->error.empty()) {
          run->error = error.empty() ? "a sequence ended early" : std::string(error);
        }
      }
      run->done.notify_all();
    };
    auto handle = serving.submit(std::move(request), std::move(callbacks));
    if (!handle)
      throw std::runtime_error("the engine refused a sequence: " + handle.error().message);
    handles.push_back(std::move(*handle));
  }
  std::unique_lock lock(run->mutex);
  run->done.wait(lock, [&] { return run->ended == run->total; });
  if (!run->error.empty()) throw std::runtime_error("bench sequence failed: " + run->error);
  return run;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int64_t whole_tokens_per_second(double rate) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::floor(rate)));
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces `path` with `text` atomically (a sibling temporary file renamed over it), keeping
// the file's permissions: a crash leaves the old config or the new one, never half of one.
void replace_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".bench-tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::permissions(tmp, std::filesystem::status(path).permissions(), ec);
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    throw std::runtime_error("cannot replace " + path.string() + ": " + ec.message());
  }
}

}  // namespace

BenchResult run_throughput_bench(const engine::Model& model, engine::ServingOptions options,
                                 const BenchWorkload& w) {
  if (w.sequences == 0 || w.prompt_tokens < 2 || w.generated_tokens < 2) {
    throw std::runtime_error("the workload needs at least 1 sequence, 2 prompt and 2 tokens");
  }
  options.prefix_cache = false;  // every prompt token computed, as an unseen prompt would be
  options.max_running = std::max(options.max_running, w.sequences);
  options.max_waiting = std::max(options.max_waiting, w.sequences);
  engine::ServingEngine serving(model, options);
  if (w.prompt_tokens + w.generated_tokens > serving.context_length()) {
    throw std::runtime_error(
        "prompt + generated tokens (" + std::to_string(w.prompt_tokens + w.generated_tokens) +
        ") exceed the model's context of " + std::to_string(serving.context_length()));
  }
  Clock::time_point submitted;
  run_batch(serving, model, 1, std::min<size_t>(8, w.prompt_tokens), 8, submitted);  // warm-up

  BenchResult result;
  auto prefill = run_batch(serving, model, w.sequences, w.prompt_tokens, 1, submitted);
  result.prefill_seconds = seconds(prefill->last_end - submitted);
  result.prompt_tokens_per_second =
      static_cast<double>(w.sequences * w.prompt_tokens) / result.prefill_seconds;

  auto decode =
      run_batch(serving, model, w.sequences, w.prompt_tokens, w.generated_tokens, submitted);
  result.decode_seconds = seconds(decode->last_end - decode->all_generating);
  result.decode_window_tokens = decode->tokens - decode->tokens_when_all_generating;
  if (result.decode_seconds <= 0 || result.decode_window_tokens == 0) {
    throw std::runtime_error("the decode phase was too short to time; raise --tokens");
  }
  result.output_tokens_per_second =
      static_cast<double>(result.decode_window_tokens) / result.decode_seconds;
  return result;
}

int run_bench(const BenchCommandOptions& options) {
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "switchyard bench: %s\n", message.c_str());
    return 1;
  };
  ConfigPtr config;
  std::string text;
  try {
    text = read_file(options.config_path);
    // A hardware section written before the first bench has no tokens_per_second yet, which
    // the loader requires: load it with a placeholder (the file itself gets the measurement).
    config = load_config_string(with_placeholder_throughput(text), options.config_path);
  } catch (const std::exception& e) {
    return fail(e.what());
  }

  const BackendConfig* backend = nullptr;
  for (const BackendConfig& b : config->backends) {
    if (b.protocol != "local") continue;
    if (!options.backend.empty() && b.name != options.backend) continue;
    if (backend != nullptr) {
      return fail("the config has several local backends; name one with --backend");
    }
    backend = &b;
  }
  if (backend == nullptr) {
    return fail(options.backend.empty()
                    ? "the config has no local backend (protocol: local)"
                    : "no local backend named '" + options.backend + "' in the config");
  }
  const backends::LocalModelSpec* spec = nullptr;
  for (const auto& m : backend->local.models) {
    if (options.model.empty() || m.name == options.model) {
      spec = &m;
      break;
    }
  }
  if (spec == nullptr) {
    return fail("backend '" + backend->name + "' has no model named '" + options.model + "'");
  }

  BenchWorkload workload = options.workload;
  if (workload.sequences > spec->max_running) {
    std::fprintf(stderr, "note: %zu sequences capped at the model's max_running (%zu)\n",
                 workload.sequences, spec->max_running);
    workload.sequences = spec->max_running;
  }
  engine::ServingOptions serving;
  serving.kv_budget_bytes = spec->kv_budget_bytes;
  serving.max_running = spec->max_running;
  serving.max_waiting = spec->max_waiting;
  serving.threads = options.threads != 0 ? options.threads : spec->threads;

  BenchResult result;
  try {
    std::unique_ptr<engine::Model> model = engine::Model::load(spec->path);
    std::printf("bench %s/%s (%s): %zu sequences x (%zu prompt + %zu generated tokens)\n",
                backend->name.c_str(), spec->name.c_str(), spec->path.filename().c_str(),
                workload.sequences, workload.prompt_tokens, workload.generated_tokens);
    std::fflush(stdout);
    result = run_throughput_bench(*model, serving, workload);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  const ThroughputFigures figures{
      .tokens_per_second = whole_tokens_per_second(result.output_tokens_per_second),
      .prompt_tokens_per_second = whole_tokens_per_second(result.prompt_tokens_per_second)};
  std::printf("prefill: %lld tokens/s (%.3f s)\n",
              static_cast<long long>(*figures.prompt_tokens_per_second), result.prefill_seconds);
  std::printf("decode:  %lld tokens/s (%zu tokens in %.3f s, %zu concurrent)\n",
              static_cast<long long>(figures.tokens_per_second), result.decode_window_tokens,
              result.decode_seconds, workload.sequences);
  std::fflush(stdout);
  if (!options.write) return 0;

  auto edited = set_hardware_throughput(text, backend->name, figures);
  if (!edited) return fail(edited.error());
  try {
    replace_file(options.config_path, *edited);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  std::printf(
      "wrote hardware.tokens_per_second: %lld and prompt_tokens_per_second: %lld of "
      "backend %s to %s\n",
      static_cast<long long>(figures.tokens_per_second),
      static_cast<long long>(*figures.prompt_tokens_per_second), backend->name.c_str(),
      options.config_path.c_str());
  return 0;
}

void add_bench_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<BenchCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure a local model's throughput and write it into the config's hardware price");
  cmd->add_option("--config", options->config_path, "YAML config file")->required();
  cmd->add_option("--backend", options->backend, "Local backend (default: the only one)");
  cmd->add_option("--model", options->model, "Model of that backend (default: its first)");
  cmd->add_option("-n,--sequences", options->workload.sequences, "Concurrent sequences")
      ->check(CLI::Range(size_t{1}, size_t{1024}))
      ->capture_default_str();
  cmd->add_option("--prompt-tokens", options->workload.prompt_tokens, "Prompt tokens per sequence")
      ->check(CLI::Range(size_t{2}, size_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--tokens", options->workload.generated_tokens, "Tokens generated per sequence")
      ->check(CLI::Range(size_t{2}, size_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("-t,--threads", options->threads, "CPU threads (0: the model's configured)");
  auto no_write = std::make_shared<bool>(false);
  cmd->add_flag("--no-write", *no_write, "Print the figures without editing the config");
  cmd->callback([options, no_write, &exit_code] {
    options->write = !*no_write;
    exit_code = run_bench(*options);
  });
}

}  // namespace sy::gateway
