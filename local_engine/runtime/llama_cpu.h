#pragma once
// The CPU forward pass of the Llama family: the same computation as reference/llama_reference,
// but over the weights in the mapped GGUF file (F32, F16, Q8_0, Q4_0 in place) with the
// cpuid-selected kernels. Matrix rows are split across a thread pool; every row is computed the
// same way whatever the thread count, so results do not depend on it.

#include <span>
#include <vector>

#include "kernels/cpu/matvec.h"
#include "runtime/thread_pool.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine {

class LlamaCpu {
 public:
  // `model` must come from a GGUF file and outlive this object. Throws EngineError otherwise.
  // `threads` counts the caller; 0 means one per hardware thread.
  LlamaCpu(const Model& model, size_t max_positions, size_t threads = 1);

  // Same contract as LlamaReference::forward.
  std::span<const float> forward(TokenId token, size_t pos);

 private:
  struct Layer {
    kernels::MatrixView wq, wk, wv, wo, w_gate, w_up, w_down;
    std::vector<float> attn_norm, ffn_norm;  // (dim) each, small: kept as F32 copies
  };
  kernels::MatrixView view(std::string_view name, size_t rows, size_t cols) const;
  std::vector<float> vector_f32(std::string_view name) const;
  void matvec(const kernels::MatrixView& w, const float* x, float* out);

  const Model& model_;
  const ModelConfig& c_;
  const kernels::CpuKernels& kernels_;
  ThreadPool pool_;
  std::vector<kernels::MatvecScratch> scratch_;  // [0]: the current matvec's activations
  size_t max_positions_;
  kernels::MatrixView token_embd_;
  kernels::MatrixView output_;
  std::vector<Layer> layers_;
  std::vector<float> output_norm_;  // (dim)
  std::vector<float> inv_freq_;     // (rope_dim / 2)
  std::vector<float> x_, xb_, q_, k_, v_, att_out_, scores_, gate_, up_, logits_;
  std::vector<float> key_cache_;    // (n_layers, max_positions, n_kv_heads * head_dim)
  std::vector<float> value_cache_;  // (n_layers, max_positions, n_kv_heads * head_dim)
};

}  // namespace sy::engine
