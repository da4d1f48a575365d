#include "switchyard/local_engine/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "reference/llama_reference.h"
#include "runtime/llama_cpu.h"
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
  if (options.use_reference || model.file() == nullptr) {
    reference = std::make_unique<LlamaReference>(model, positions);
  } else {
    cpu = std::make_unique<LlamaCpu>(model, positions, options.threads);
  }
  auto forward_one = [&](TokenId t, size_t p) {
    return cpu ? cpu->forward(t, p) : reference->forward(t, p);
  };
  Sampler sampler(options.sampling);
  Utf8StreamDecoder decoder(tokenizer);
  std::span<const float> logits;
  size_t pos = 0;
  const auto prompt_start = Clock::now();
  if (cpu) {
    // The CPU pass reads each weight matrix once per chunk of prompt tokens (batched matmul).
    logits = cpu->forward_batch(result.prompt_tokens, 0);
    pos = result.prompt_tokens.size();
  } else {
    for (TokenId t : result.prompt_tokens) logits = forward_one(t, pos++);
  }
  timings.prompt_seconds = seconds_since(prompt_start);
  timings.prompt_forwards = result.prompt_tokens.size();
  std::vector<TokenId> history = result.prompt_tokens;

  size_t longest_stop = 0;
  for (const auto& s : options.stop) longest_stop = std::max(longest_stop, s.size());
  size_t streamed = 0;  // bytes of result.text handed to on_text
  bool caller_stopped = false;
  bool stop_text_found = false;
  Clock::duration in_callback{};  // the caller's time, kept out of the timings
  // Streams what can no longer turn out to be the start of a stop string; true on a stop.
  auto advance = [&](bool final) {
    size_t cut = std::string::npos;
    const size_t from = streamed > longest_stop ? streamed - longest_stop : 0;
    for (const auto& s : options.stop) {
      if (s.empty()) continue;
      size_t at = result.text.find(s, from);
      if (at != std::string::npos) cut = std::min(cut, at);
    }
    bool stop_found = cut != std::string::npos;
    if (stop_found) result.text.resize(cut);
    size_t ready = result.text.size();
    if (!stop_found && !final) {
      // Hold back a tail that is a proper prefix of some stop string.
      for (const auto& s : options.stop) {
        for (size_t len = std::min(s.size() - 1, result.text.size()); len > 0; --len) {
          if (result.text.compare(result.text.size() - len, len, s, 0, len) == 0) {
            ready = std::min(ready, result.text.size() - len);
            break;
          }
        }
      }
    }
    if (ready > streamed && on_text && !caller_stopped) {
      const auto callback_start = Clock::now();
      if (!on_text(std::string_view(result.text).substr(streamed, ready - streamed))) {
        caller_stopped = true;
      }
      in_callback += Clock::now() - callback_start;
    }
    streamed = std::max(streamed, ready);
    return stop_found;
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
    // The model's own probability of the chosen token (before penalties and temperature).
    const float max = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float l : logits) sum += std::exp(static_cast<double>(l - max));
    result.logprobs.push_back(static_cast<float>(logits[next] - max - std::log(sum)));
    result.tokens.push_back(next);
    history.push_back(next);
    result.text += decoder.push(next);
    if (advance(false)) {
      stop_text_found = true;
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
  if (!stop_text_found && !caller_stopped) {
    result.text += decoder.finish();  // bytes of an incomplete character, if any
    if (advance(true)) result.finish = FinishReason::stop;
  }
  timings.generation_seconds =
      std::chrono::duration<double>(Clock::now() - generation_start - in_callback).count();
  return result;
}

}  // namespace sy::engine
