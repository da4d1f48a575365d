#pragma once
// Text generation over a loaded Model. Runs on the calling thread; many generate() calls may run
// at once on one Model.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/sampler.h"

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
  // Generation ends before the first occurrence of any of these in the text; the stop text is
  // neither returned nor streamed (streamed text is held back while it could start one).
  std::vector<std::string> stop;
};

enum class FinishReason { stop, length };

struct GenerateResult {
  std::vector<TokenId> prompt_tokens;
  std::vector<TokenId> tokens;  // generated, excluding the final EOS
  std::vector<float> logprobs;  // natural log of each generated token's model probability
  std::string text;
  FinishReason finish = FinishReason::length;
};

// Called with each whole-UTF-8 chunk of text as it is produced; return false to stop early.
using TextCallback = std::function<bool(std::string_view)>;

// Throws EngineError when the prompt does not fit the model's context.
GenerateResult generate(const Model& model, std::string_view prompt, const GenerateOptions& options,
                        const TextCallback& on_text = {});

}  // namespace sy::engine
