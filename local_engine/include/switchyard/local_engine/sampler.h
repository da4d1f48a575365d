#pragma once
// Picks the next token from logits. Deterministic for a given seed on every platform (its own
// generator, no std distributions).

#include <cstdint>
#include <span>
#include <vector>

#include "switchyard/local_engine/vocabulary.h"

namespace sy::engine {

struct SamplerOptions {
  float temperature = 0.0f;  // <= 0: greedy (argmax, lowest id on ties)
  uint32_t top_k = 0;        // 0: no limit
  float top_p = 1.0f;        // nucleus: smallest set whose probability reaches top_p
  float min_p = 0.0f;        // drop tokens below min_p * the most likely token's probability
  // Penalties over the last `penalty_last_n` tokens (llama.cpp semantics): repetition divides a
  // positive logit (multiplies a negative one); frequency subtracts count * f; presence
  // subtracts p once per token seen. They apply in greedy mode too.
  float repetition_penalty = 1.0f;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  size_t penalty_last_n = 64;
  uint64_t seed = 0;
};

// log softmax(logits), any token's from one pass over the logits: the largest logit and
// log(sum exp(l - max)), the exponentials in float vector lanes (within a few ulp each; the
// result within about 1e-6 of a double-precision log-softmax) and the sum in double. A few
// microseconds over a 49,152-token vocabulary, where libm's exp took hundreds.
struct LogSoftmax {
  float max = 0;
  double log_sum = 0;
  // `token` must index `logits`, the span this was computed from.
  float at(std::span<const float> logits, TokenId token) const {
    return static_cast<float>(logits[token] - max - log_sum);
  }
};
LogSoftmax log_softmax(std::span<const float> logits);

// log softmax(logits)[token]: the model's own log-probability of `token` (before penalties and
// temperature), as log_softmax computes it. `token` must index `logits`.
float token_logprob(std::span<const float> logits, TokenId token);

class Sampler {
 public:
  explicit Sampler(SamplerOptions options);
  // `history` is every token so far (prompt and generated); only its tail is penalized.
  TokenId sample(std::span<const float> logits, std::span<const TokenId> history = {});

 private:
  double next_uniform();  // [0, 1)

  SamplerOptions options_;
  uint64_t state_;
  struct Candidate {
    TokenId id;
    float p;
  };
  std::vector<Candidate> candidates_;
  std::vector<float> penalized_;
};

}  // namespace sy::engine
