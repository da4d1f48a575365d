#pragma once
// Text generation over a loaded Model. Runs on the calling thread; many generate() calls may run
// at once on one Model.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/sampler.h"
#include "switchyard/local_engine/token_constraint.h"

namespace sy::engine {

struct GenerateOptions {
  size_t max_tokens = 256;
  SamplerOptions sampling;
  bool ignore_eos = false;     // keep going to max_tokens
  bool add_special = true;     // BOS as the vocabulary asks
  bool parse_special = false;  // control tokens spelled in the prompt become tokens
  // The scalar reference pass instead of the CPU kernels (llama2.c checkpoints always use it).
  bool use_reference = false;
  size_t threads = 0;  // CPU pass threads including the caller; 0: one per hardware thread
  // Where the forward pass runs: the CPU kernels, or the CUDA pass on GPU 0 (GGUF models only;
  // generate() throws EngineError when the build has no CUDA or no GPU is present).
  enum class Device : uint8_t { cpu, cuda };
  Device device = Device::cpu;
  // With Device::cuda: how many layers run on the GPU, from the first (the rest, and the
  // embedding and output, on the CPU); 0 means none; the default (or any count past the model's)
  // means all of them.
  size_t gpu_layers = SIZE_MAX;
  // Generation ends before the first occurrence of any of these in the text; the stop text is
  // neither returned nor streamed (streamed text is held back while it could start one).
  std::vector<std::string> stop;
  // Constrained decoding (compile_json_grammar over this model's tokenizer): each token is
  // sampled among those the grammar allows, and generation stops (FinishReason::stop) once the
  // output is a complete value.
  std::shared_ptr<const JsonGrammar> grammar;
  // After generating, measure how fast the CPU pass's threads read its weights where they lie
  // (GenerateTimings::weights_read_gbs): benchmarks' memory-bandwidth ceiling.
  bool measure_weights_read = false;
};

enum class FinishReason { stop, length };

// Where generate() spent its time, from a steady clock read inside it. The prompt phase is the
// forward passes over the prompt tokens (prefill); the generation phase runs from the end of the
// prefill to the end: sampling every token and the forward pass of each generated token fed
// back. Time spent inside the caller's TextCallback is left out of both.
struct GenerateTimings {
  double tokenize_seconds = 0;
  double prompt_seconds = 0;
  double generation_seconds = 0;
  size_t prompt_forwards = 0;  // forward passes in the prompt phase (= prompt tokens)
  // Forward passes in the generation phase: one per generated token but the last (the first
  // token is sampled from the prompt's logits, and nothing needs the last one's logits).
  size_t generation_forwards = 0;
  // GenerateOptions::measure_weights_read on the CPU pass: GB/s of a plain read of every weight
  // matrix a decode step reads, by the pass's threads, median of 5 (0: not measured).
  double weights_read_gbs = 0;

  // Forward passes per second; 0 when the phase ran none.
  double prompt_tokens_per_second() const {
    return prompt_seconds > 0 ? prompt_forwards / prompt_seconds : 0.0;
  }
  // Generated tokens per second, counting forward passes, not tokens: with n tokens and n-1
  // passes this errs low by at most one token's share.
  double generation_tokens_per_second() const {
    return generation_seconds > 0 ? generation_forwards / generation_seconds : 0.0;
  }
};

struct GenerateResult {
  std::vector<TokenId> prompt_tokens;
  std::vector<TokenId> tokens;  // generated, excluding the final EOS
  std::vector<float> logprobs;  // natural log of each generated token's model probability
  std::string text;
  FinishReason finish = FinishReason::length;
  GenerateTimings timings;
};

// Called with each whole-UTF-8 chunk of text as it is produced; return false to stop early.
using TextCallback = std::function<bool(std::string_view)>;

// Throws EngineError when the prompt does not fit the model's context.
GenerateResult generate(const Model& model, std::string_view prompt, const GenerateOptions& options,
                        const TextCallback& on_text = {});

}  // namespace sy::engine
