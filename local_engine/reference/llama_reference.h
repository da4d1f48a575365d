#pragma once
// The reference forward pass of the Llama family and its relatives (Qwen2/3, Gemma 2/3: every
// architecture in model/architecture.h, told apart by ModelConfig flags): plain scalar C++, one
// token at a time, written to be read (llama2.c style). It is the oracle the optimized paths are
// tested against; speed is not its job.

#include <span>
#include <vector>

#include "switchyard/local_engine/model.h"

namespace sy::engine {

class LlamaReference {
 public:
  // Holds a KV cache for `max_positions` tokens; `model` must outlive this object.
  LlamaReference(const Model& model, size_t max_positions);

  // Feeds `token` at position `pos` (0, 1, 2, ... in order) and returns the logits for the next
  // token: (n_vocab). The span is valid until the next call.
  std::span<const float> forward(TokenId token, size_t pos);

  size_t max_positions() const { return max_positions_; }

 private:
  const Model& model_;
  const ModelConfig& c_;
  size_t max_positions_;
  std::vector<float> x_;            // (dim) the residual stream
  std::vector<float> xb_;           // (dim) normalized input of a sub-layer
  std::vector<float> q_;            // (n_heads * head_dim)
  std::vector<float> k_;            // (n_kv_heads * head_dim)
  std::vector<float> v_;            // (n_kv_heads * head_dim)
  std::vector<float> att_out_;      // (n_heads * head_dim) attention output before wo
  std::vector<float> scores_;       // (max_positions) one head's attention weights
  std::vector<float> gate_;         // (ffn_dim)
  std::vector<float> up_;           // (ffn_dim)
  std::vector<float> logits_;       // (n_vocab)
  std::vector<float> key_cache_;    // (n_layers, max_positions, n_kv_heads * head_dim)
  std::vector<float> value_cache_;  // (n_layers, max_positions, n_kv_heads * head_dim)
};

}  // namespace sy::engine
