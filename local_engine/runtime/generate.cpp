#include "switchyard/local_engine/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "reference/llama_reference.h"
#include "runtime/llama_cpu.h"
#include "runtime/llama_cuda.h"
#include "runtime/text_streamer.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point from) {
  return std::chrono::duration<double>(Clock::now() - from).count();
}

}  // namespace

GenerateResult generate(const Model& model, std::string_view prompt, const GenerateOptions& options,
                        const TextCallback& on_text) {
  const Tokenizer& tokenizer = model.tokenizer();
  GenerateResult result;
  GenerateTimings& timings = result.timings;
  const auto tokenize_start = Clock::now();
  result.prompt_tokens = tokenizer.encode(
      prompt, {.add_special = options.add_special, .parse_special = options.parse_special});
  timings.tokenize_seconds = seconds_since(tokenize_start);
  // A model needs at least one token to condition on; BOS stands in for an empty prompt.
  if (result.prompt_tokens.empty()) {
    if (tokenizer.bos() < 0) throw EngineError("empty prompt and the model has no BOS token");
    result.prompt_tokens.push_back(tokenizer.bos());
  }
  const size_t context = model.config().context_length;
  if (result.prompt_tokens.size() >= context) {
    throw EngineError("prompt of " + std::to_string(result.prompt_tokens.size()) +
                      " tokens does not fit the context of " + std::to_string(context));
  }
  const size_t positions = std::min(context, result.prompt_tokens.size() + options.max_tokens);

  // GGUF models run on the CPU kernels over the mapped weights; llama2.c checkpoints (F32 copies
  // only) and callers who ask for it run the reference pass.
  std::unique_ptr<LlamaReference> reference;
  std::unique_ptr<LlamaCpu> cpu;
  std::unique_ptr<LlamaCuda> gpu;      // every layer on the GPU
  std::unique_ptr<LlamaCuda> offload;  // the first gpu_layers layers, for the CPU pass
  const bool cuda = options.device == GenerateOptions::Device::cuda && options.gpu_layers > 0;
  if (cuda && model.file() == nullptr) throw EngineError("--device cuda needs a GGUF model");
  if (cuda && options.gpu_layers >= model.config().n_layers) {
    gpu = std::make_unique<LlamaCuda>(model, positions);
  } else if (cuda) {
    offload = std::make_unique<LlamaCuda>(model, positions, 0, LlamaCpu::kPrefillChunk,
                                          options.gpu_layers);
    cpu = std::make_unique<LlamaCpu>(model, positions, options.threads);
    cpu->set_layer_offload([gpu_part = offload.get()](auto rows, size_t block_tokens, float* x) {
      return gpu_part->run_layers(rows, block_tokens, x);
    });
  } else if (options.use_reference || model.file() == nullptr) {
    reference = std::make_unique<LlamaReference>(model, positions);
  } else {
    cpu = std::make_unique<LlamaCpu>(model, positions, options.threads);
  }
  auto forward_one = [&](TokenId t, size_t p) {
    return gpu ? gpu->forward(t, p) : cpu ? cpu->forward(t, p) : reference->forward(t, p);
  };
  Sampler sampler(options.sampling);
  std::span<const float> logits;
  size_t pos = 0;
  const auto prompt_start = Clock::now();
  if (gpu) {
    logits = gpu->forward_batch(result.prompt_tokens, 0);
    pos = result.prompt_tokens.size();
  } else if (cpu) {
    // The CPU pass reads each weight matrix once per chunk of prompt tokens (batched matmul).
    logits = cpu->forward_batch(result.prompt_tokens, 0);
    pos = result.prompt_tokens.size();
  } else {
    for (TokenId t : result.prompt_tokens) logits = forward_one(t, pos++);
  }
  timings.prompt_seconds = seconds_since(prompt_start);
  timings.prompt_forwards = result.prompt_tokens.size();
  std::vector<TokenId> history = result.prompt_tokens;

  TextStreamer streamer(tokenizer, options.stop);
  bool caller_stopped = false;
  Clock::duration in_callback{};  // the caller's time, kept out of the timings
  auto emit = [&](std::string_view chunk) {
    if (chunk.empty() || !on_text || caller_stopped) return;
    const auto callback_start = Clock::now();
    if (!on_text(chunk)) caller_stopped = true;
    in_callback += Clock::now() - callback_start;
  };

  std::unique_ptr<TokenConstraint> constraint =
      options.grammar ? options.grammar->start() : nullptr;
  std::vector<float> allowed_logits;  // (n_vocab) the grammar's mask over this step's logits
  const auto generation_start = Clock::now();
  while (result.tokens.size() < options.max_tokens) {
    std::span<const float> candidates = logits;
    if (constraint) {
      allowed_logits.assign(logits.begin(), logits.end());
      constraint->mask(allowed_logits);
      candidates = allowed_logits;
    }
    const TokenId next = sampler.sample(candidates, history);
    if (next == tokenizer.eos() && !options.ignore_eos) {
      result.finish = FinishReason::stop;
      break;
    }
    result.logprobs.push_back(token_logprob(logits, next));
    result.tokens.push_back(next);
    history.push_back(next);
    emit(streamer.push(next));
    if (streamer.stopped()) {
      result.finish = FinishReason::stop;
      break;
    }
    if (caller_stopped) {
      result.finish = FinishReason::stop;
      break;
    }
    if (constraint) {
      constraint->accept(next);
      if (constraint->complete()) {
        result.finish = FinishReason::stop;
        break;
      }
    }
    // Out of tokens to produce, or the cache is full: the context is spent.
    if (result.tokens.size() >= options.max_tokens || pos >= positions) break;
    logits = forward_one(next, pos++);
    ++timings.generation_forwards;
  }
  if (!streamer.stopped() && !caller_stopped) {
    emit(streamer.finish());  // held-back text and bytes of an incomplete character, if any
    if (streamer.stopped()) result.finish = FinishReason::stop;
  }
  result.text = streamer.text();
  timings.generation_seconds =
      std::chrono::duration<double>(Clock::now() - generation_start - in_callback).count();
  if (options.measure_weights_read && cpu) {
    timings.weights_read_gbs = cpu->weights_read_bytes_per_second(5) / 1e9;
  }
  return result;
}

}  // namespace sy::engine
