#pragma once
// The CPU forward pass of the Llama family and its relatives: the same computation as
// reference/llama_reference (every architecture of model/architecture.h), but over the weights
// in the mapped GGUF file (F32, F16, Q8_0, Q4_0 in place) with the cpuid-selected kernels, and a
// KV cache in F16 by default (F32 on request, for tests). Matrix rows are split across a thread
// pool; every row is computed the same way whatever the thread count, so results do not depend
// on it.

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matvec.h"
#include "runtime/kv_cache.h"
#include "runtime/thread_pool.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine {

// One sequence's share of a batched step (forward_step).
struct BatchSequence {
  std::span<const TokenId> tokens;  // run at positions start_pos .. start_pos + tokens.size() - 1
  size_t start_pos = 0;             // positions below it are in `kv` already
  const KvSequence* kv = nullptr;   // blocks reserved for every position the tokens reach
  bool want_logits = false;         // the logits after its last token
};

class LlamaCpu {
 public:
  // `model` must come from a GGUF file and outlive this object. Throws EngineError otherwise.
  // `threads` counts the caller; 0 means one per hardware thread.
  LlamaCpu(const Model& model, size_t max_positions, size_t threads = 1,
           KvCacheType kv_type = KvCacheType::f16);

  // Serving: the sequences' keys and values live in `cache` (which must outlive this object and
  // match the model); `max_step_tokens` bounds the tokens of one forward_step.
  LlamaCpu(const Model& model, KvCache& cache, size_t max_step_tokens, size_t threads = 1);

  // Runs every sequence's tokens in one pass: each weight matrix is read once per chunk of the
  // step's tokens (all sequences together), attention runs per token over its own sequence's
  // blocks. Stores the keys and values of every token; the caller then advances each kv->length.
  // Returns (sequences with want_logits, n_vocab) logits in batch order. A token's logits are
  // bit-identical whatever else is in the batch (batch-invariant kernels).
  std::span<const float> forward_step(std::span<const BatchSequence> batch);

  // Same contract as LlamaReference::forward.
  std::span<const float> forward(TokenId token, size_t pos);

  // Prompt processing: runs tokens[i] at position start_pos + i for every i (positions before
  // start_pos must already be in the cache) and returns the logits after the last token, the
  // same values as calling forward on each token in turn. Tokens go through each layer in
  // chunks of at most kPrefillChunk, so every weight matrix is read once per chunk (batched
  // matmul) rather than once per token; attention stays per token over the cache (causal).
  std::span<const float> forward_batch(std::span<const TokenId> tokens, size_t start_pos);

  // Bounds the chunk scratch: (kPrefillChunk, ffn_dim) floats for each FFN buffer.
  static constexpr size_t kPrefillChunk = 128;

 private:
  struct Layer {
    kernels::MatrixView wq, wk, wv, wo, w_gate, w_up, w_down;
    // Small tensors, kept as F32 copies; the optional ones are empty when absent.
    std::vector<float> attn_norm, ffn_norm;            // (dim)
    std::vector<float> bq, bk, bv;                     // (q width), (kv width), (kv width)
    std::vector<float> q_norm, k_norm;                 // (head_dim)
    std::vector<float> attn_post_norm, ffn_post_norm;  // (dim)
  };
  kernels::MatrixView view(std::string_view name, size_t rows, size_t cols) const;
  std::vector<float> vector_f32(std::string_view name, size_t n) const;
  void matvec(const kernels::MatrixView& w, const float* x, float* out);
  // out (n, w.rows) = x (n, w.cols) times W^T, rows split across the pool.
  void matmul(const kernels::MatrixView& w, const float* x, size_t n, float* out);
  void forward_chunk(std::span<const TokenId> tokens, size_t start_pos);
  void embed(TokenId token, float* out) const;
  // Fills rope_cos_/rope_sin_ (rope_dim / 2) for `pos` from `inv_freq`.
  void rope_angles(const std::vector<float>& inv_freq, size_t pos);
  void rope(float* v, size_t n_heads) const;
  // Stores k, v (kv width each) in layer l's cache at pos.
  void store_kv(size_t layer, size_t pos, const float* k, const float* v);
  // out (q width) = softmax(q.K^T * scale) V per head over the cached positions that a token at
  // `pos` sees. scores (group, max_positions) and value_row (head_dim) are the caller's scratch;
  // reads only the cache, so threads may attend different tokens at once.
  void attend(size_t layer, size_t pos, const float* q, float* out, float* scores,
              float* value_row) const;
  // store_kv of k_/v_, then attend with q_ into att_out_.
  void attention(size_t layer, size_t pos);

  const Model& model_;
  const ModelConfig& c_;
  const kernels::CpuKernels& kernels_;
  ThreadPool pool_;
  kernels::MatvecScratch scratch_;  // the current matvec's activations, shared by the threads
  size_t max_positions_;
  KvCacheType kv_type_;
  kernels::MatrixView token_embd_;
  kernels::MatrixView output_;
  std::vector<Layer> layers_;
  std::vector<float> output_norm_;          // (dim)
  std::vector<float> inv_freq_;             // (rope_dim / 2) global layers, scaling folded in
  std::vector<float> inv_freq_swa_;         // (rope_dim / 2) sliding-window layers
  std::vector<float> rope_cos_, rope_sin_;  // (rope_dim / 2) for the current position
  std::vector<float> x_, xb_, q_, k_, v_, att_out_, gate_, up_, logits_;
  std::vector<float> scores_;     // (n_heads / n_kv_heads, max_positions) one KV head's group
  std::vector<float> value_row_;  // (head_dim) a cached F16 value row in F32
  // Chunk buffers of forward_batch, allocated on its first call: (kPrefillChunk, width) each.
  std::vector<float> bx_, bxb_, bq_, bk_, bv_, batt_, bgate_, bup_;
  std::vector<float> attn_scores_;      // (pool threads, scores_ size) forward_batch's attention
  std::vector<float> attn_value_rows_;  // (pool threads, head_dim)
  kernels::ActivationBatch batch_;  // the quantized activations of the current matmul
  // (n_layers, max_positions, n_kv_heads * head_dim), one pair in use per kv_type_.
  std::vector<uint16_t> key_cache_f16_, value_cache_f16_;
  std::vector<float> key_cache_, value_cache_;
};

}  // namespace sy::engine
