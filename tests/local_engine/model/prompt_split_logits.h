#pragma once
// The logits the prompt-processing tests compare: one prompt run token by token, in one
// forward_batch call on two threads, and in pieces (a 10-token batch, one forward, a batch of
// the rest), each with an F32 KV cache. Callers state their own bound on the differences.

#include <span>
#include <vector>

#include "runtime/llama_cpu.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine::testing {

struct PromptSplitLogits {
  std::vector<float> token_by_token_mid;   // after the first 10 tokens
  std::vector<float> token_by_token_last;  // after every token
  std::vector<float> batched_last;         // the whole prompt in one call, 2 threads
  std::vector<float> pieces_mid;           // the 10-token batch
  std::vector<float> pieces_last;          // the batch after tokens already in the cache
};

// A fixed prompt of n_tokens (> 11) ids below 603 (the tiny presets' vocabulary).
inline PromptSplitLogits prompt_split_logits(const Model& model, size_t n_tokens) {
  std::vector<TokenId> tokens(n_tokens);
  for (size_t i = 0; i < n_tokens; ++i) tokens[i] = static_cast<TokenId>((i * 131 + 17) % 603);
  auto copy = [](std::span<const float> logits) {
    return std::vector<float>(logits.begin(), logits.end());
  };
  PromptSplitLogits out;
  LlamaCpu one_by_one(model, n_tokens, 1, KvCacheType::f32);
  for (size_t pos = 0; pos < n_tokens; ++pos) {
    auto logits = one_by_one.forward(tokens[pos], pos);
    if (pos == 9) out.token_by_token_mid = copy(logits);
    if (pos == n_tokens - 1) out.token_by_token_last = copy(logits);
  }
  LlamaCpu batched(model, n_tokens, 2, KvCacheType::f32);
  out.batched_last = copy(batched.forward_batch(tokens, 0));
  LlamaCpu pieces(model, n_tokens, 1, KvCacheType::f32);
  out.pieces_mid = copy(pieces.forward_batch(std::span(tokens).first(10), 0));
  pieces.forward(tokens[10], 10);
  out.pieces_last = copy(pieces.forward_batch(std::span(tokens).subspan(11), 11));
  return out;
}

}  // namespace sy::engine::testing
